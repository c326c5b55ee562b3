// What the soak checks once the load has stopped: a last archival run, every record the model knows
// read back, the live store and the index listed in full against each other and the model, and
// verify.
import { setTimeout as sleep } from 'node:timers/promises';
import pMap from 'p-map';
import { GONE } from './model.mjs';
import { parseJson } from './json.mjs';

/** @typedef {import('./api.mjs').Api} Api */
/** @typedef {import('./model.mjs').RecordModel} RecordModel */
/** @typedef {import('./processes.mjs').CliResult} CliResult */

/**
 * @typedef {object} FinalFigures
 * @property {number} recordsChecked every id the model knows, read back
 * @property {number} live records the live store lists after the final run
 * @property {number} archived index entries after the final run
 * @property {{ archived: number, skipped: number }} finalRun
 * @property {{ entries: number, segments: number, dead_records: number, orphans: number } | undefined} verify
 */

/**
 * @param {{ api: Api, model: RecordModel, problems: string[], verify: () => Promise<CliResult> }} deps
 * @returns {Promise<FinalFigures>}
 */
export async function finalCheck({ api, model, problems, verify }) {
  const finalRun = await lastRun(api, problems);
  const ids = model.ids();
  await pMap(
    ids,
    async (id) => {
      const answer = await api.request('reader', 'GET', `/billing/${id}`);
      if (answer.status === 200) model.checkFinal(id, { kind: 'doc', text: answer.text });
      else if (answer.status === 404) model.checkFinal(id, GONE);
      else problems.push(`the final read of ${id} answered ${answer.label}: ${answer.text.slice(0, 300)}`);
    },
    { concurrency: 8 },
  );

  const { live, archived: listedArchived } = await listBilling(api, problems);
  const archived = await listArchiveEntries(api, problems);
  const known = new Set(ids);
  const listed = [...new Set([...live, ...archived])];
  const findings = {
    'both live and archived after the final run': [...live].filter((id) => archived.has(id)),
    'archived, but GET /billing does not list them as archived': [...archived].filter(
      (id) => !listedArchived.has(id),
    ),
    'listed as archived by GET /billing, but not archived': [...listedArchived].filter(
      (id) => !archived.has(id),
    ),
    'stored, though no client ever wrote them': listed.filter((id) => !known.has(id)),
    'listed, though their last acknowledged write deleted them': listed.filter(
      (id) => known.has(id) && model.mustExist(id) === false,
    ),
    'acknowledged, but listed neither live nor archived': ids.filter(
      (id) => model.mustExist(id) === true && !live.has(id) && !archived.has(id),
    ),
  };
  for (const [finding, found] of Object.entries(findings))
    if (found.length > 0)
      problems.push(`${found.length} records are ${finding}: ${found.slice(0, 10).join(', ')}`);

  const result = await verify();
  const failure = verifyFailure(result);
  if (failure) problems.push(`after the soak, ${failure}`);
  const report = verifyReport(result);
  if (report && report.live_and_archived.count > 0)
    problems.push(
      `verify finds ${report.live_and_archived.count} records both live and archived after the final run: ${JSON.stringify(report.live_and_archived.items.slice(0, 5))}`,
    );
  const verified = report && {
    entries: report.checked.entries,
    segments: report.checked.segments,
    dead_records: report.dead_records,
    orphans: report.orphans.count,
  };
  return { recordsChecked: ids.length, live: live.size, archived: archived.size, finalRun, verify: verified };
}

/**
 * The parts of verify's JSON report the soak reads.
 * @typedef {object} VerifyReport
 * @property {boolean} ok
 * @property {{ entries: number, segments: number }} checked
 * @property {{ count: number, items: { message: string }[] }} missing
 * @property {{ count: number, items: { message: string }[] }} corrupt
 * @property {{ count: number, items: { message: string }[] }} unindexed
 * @property {number} dead_records
 * @property {{ count: number }} orphans
 * @property {{ count: number, items: unknown[] }} live_and_archived
 */

/**
 * @param {CliResult} result
 * @returns {VerifyReport | undefined}
 */
function verifyReport(result) {
  try {
    return /** @type {VerifyReport} */ (parseJson(result.stdout));
  } catch {
    return undefined;
  }
}

/**
 * What a verify run found wrong, in one sentence; undefined when it is clean.
 * @param {CliResult} result
 * @returns {string | undefined}
 */
export function verifyFailure(result) {
  const report = verifyReport(result);
  if (!report)
    return `verify exited with ${String(result.code)} and no report: ${result.stderr.slice(0, 500)}`;
  if (report.ok && result.code === 0) return undefined;
  const { missing, corrupt, unindexed } = report;
  const first = [...missing.items, ...corrupt.items, ...unindexed.items]
    .slice(0, 5)
    .map((item) => item.message);
  return `verify exited with ${String(result.code)}: ${missing.count} missing, ${corrupt.count} corrupt, ${unindexed.count} unindexed: ${first.join('; ')}`;
}

/**
 * One archival run after the load, with every record eligible; waits out a run or compaction still
 * holding the lock.
 * @param {Api} api
 * @param {string[]} problems
 */
async function lastRun(api, problems) {
  for (let attempt = 0; attempt < 120; attempt++) {
    const answer = await api.request('admin', 'POST', '/archive/sync', {
      body: { older_than_days: 0 },
      timeoutMs: 10 * 60_000,
    });
    if (answer.status === 200) {
      const run = /** @type {{ status: string, archived: number, skipped: number, errors?: unknown }} */ (
        parseJson(answer.text)
      );
      if (run.status !== 'succeeded')
        problems.push(`the final archival run ended ${run.status}: ${JSON.stringify(run.errors)}`);
      return { archived: run.archived, skipped: run.skipped };
    }
    if (answer.label !== '409 archival_running') {
      problems.push(`the final archival run answered ${answer.label}: ${answer.text.slice(0, 300)}`);
      return { archived: 0, skipped: 0 };
    }
    await sleep(500);
  }
  problems.push('the final archival run found the lock held for a minute');
  return { archived: 0, skipped: 0 };
}

/**
 * Every id GET /billing pages through by cursor, live and archived, and which of them are live; an
 * id listed twice is a problem.
 * @param {Api} api
 * @param {string[]} problems
 */
async function listBilling(api, problems) {
  /** @type {Map<string, string>} */
  const sources = new Map();
  /** @type {string | null} */
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor !== null && { cursor }) });
    const answer = await api.request('reader', 'GET', `/billing?${query.toString()}`);
    if (answer.status !== 200) {
      problems.push(`listing /billing answered ${answer.label}: ${answer.text.slice(0, 300)}`);
      break;
    }
    const page =
      /** @type {{ items: { source: string, record?: { id: string }, id?: string }[], next_cursor: string | null }} */ (
        parseJson(answer.text)
      );
    for (const item of page.items) {
      const id = String(item.record?.id ?? item.id);
      if (sources.has(id)) problems.push(`/billing lists ${id} twice`);
      sources.set(id, item.source);
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
  const live = new Set([...sources].flatMap(([id, source]) => (source === 'live' ? [id] : [])));
  const archived = new Set([...sources].flatMap(([id, source]) => (source === 'archive' ? [id] : [])));
  return { live, archived };
}

/**
 * Every id GET /archive/records pages through; an id listed twice is a problem.
 * @param {Api} api
 * @param {string[]} problems
 */
async function listArchiveEntries(api, problems) {
  /** @type {Set<string>} */
  const ids = new Set();
  /** @type {string | null} */
  let after = null;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(after !== null && { after }) });
    const answer = await api.request('reader', 'GET', `/archive/records?${query.toString()}`);
    if (answer.status !== 200) {
      problems.push(`listing /archive/records answered ${answer.label}: ${answer.text.slice(0, 300)}`);
      return ids;
    }
    const page = /** @type {{ items: { id: string }[], next_after: string | null }} */ (
      parseJson(answer.text)
    );
    for (const { id } of page.items) {
      if (ids.has(id)) problems.push(`/archive/records lists ${id} twice`);
      ids.add(id);
    }
    after = page.next_after;
  } while (after !== null);
  return ids;
}
