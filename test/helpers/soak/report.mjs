// The soak's figures as text: operations per second by kind (beside the baseline's, when there was
// one), every answer that was not a success, the background work, and the check's result.

/** @typedef {import('./workload.mjs').SoakResult} SoakResult */
/** @typedef {import('./tally.mjs').KindFigures} KindFigures */

/**
 * @param {SoakResult} result
 * @returns {string}
 */
export function formatSoakReport(result) {
  const soak = result.phases.find((phase) => phase.name === 'soak');
  const baseline = result.phases.find((phase) => phase.name === 'baseline');
  const lines = [];
  if (soak) {
    lines.push(
      `operations over ${soak.seconds.toFixed(0)} s of everything at once` +
        (baseline ? ` (baseline: ${baseline.seconds.toFixed(0)} s of writers and readers alone)` : ''),
    );
    const header = [
      'kind',
      ...(baseline ? ['baseline/s'] : []),
      'soak/s',
      'count',
      'p50 ms',
      'p95 ms',
      'not 2xx',
    ];
    const rows = soak.kinds.map((figures) => {
      const before = baseline?.kinds.find((other) => other.kind === figures.kind);
      return [
        figures.kind,
        ...(baseline ? [before ? before.perSecond.toFixed(1) : '–'] : []),
        figures.perSecond.toFixed(1),
        String(figures.count),
        figures.p50Ms.toFixed(1),
        figures.p95Ms.toFixed(1),
        otherAnswers(figures),
      ];
    });
    lines.push(...table([header, ...rows]));
  }
  const b = result.background;
  lines.push(
    `archival runs: ${b.runs}, ${b.archived} records archived, ${b.skipped} skipped (changed while in flight)`,
    `compactions: ${b.compactions}, ${b.compactionsThatMoved} of which moved records: ${b.recordsMoved} records out of ${b.segmentsCompacted} segments`,
    `verifies under load: ${b.verifies}`,
  );
  const f = result.final;
  lines.push(
    `final run: ${f.finalRun.archived} archived, ${f.finalRun.skipped} skipped; then ${f.live} live and ${f.archived} archived records; ${f.recordsChecked} ids read back`,
    f.verify
      ? `final verify: ${f.verify.entries} entries, ${f.verify.segments} segments, ${f.verify.dead_records} dead records, ${f.verify.orphans} orphans`
      : 'final verify: no report',
  );
  if (result.serverLog.length > 0)
    lines.push('server log (warn and error):', ...result.serverLog.map((l) => `  ${l}`));
  const { check } = result;
  lines.push(`model check: ${check.ok ? 'passed' : 'FAILED'}`);
  for (const problem of check.problems) lines.push(`  problem: ${problem}`);
  if (check.violationCount > 0)
    lines.push(
      `  ${check.violationCount} violations; the first ${check.violations.length}:`,
      ...check.violations,
    );
  return lines.join('\n');
}

/** @param {KindFigures} figures */
function otherAnswers(figures) {
  return Object.entries(figures.answers)
    .filter(([label]) => !/^2\d\d$/.test(label) && label !== '1 of 2 succeeded' && label !== 'exit 0')
    .map(([label, count]) => `${label}: ${count}`)
    .join(', ');
}

/**
 * Columns padded to their widest cell; numbers right-aligned.
 * @param {string[][]} rows
 */
function table(rows) {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return column === 0 || column === row.length - 1 ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('  ')
      .trimEnd(),
  );
}
