// The dashboard: what is where, what it costs, and how the runs go, refreshed while it is open.
import {
  api,
  bytes,
  count,
  duration,
  el,
  fill,
  header,
  months,
  rate,
  showFailure,
  statusCell,
  usd,
  when,
} from './common.js';

const REFRESH_MS = 10_000;
const PROGRESS_MS = 3_000;
const RUNS_SHOWN = 20;
const VERIFICATIONS_SHOWN = 5;
/** A week without a verify pass is worth a word: a damaged blob is only found by one. */
const VERIFY_STALE_MS = 7 * 24 * 3600_000;
const charts = {};

/** Draws a bar chart the first time, then only swaps its data. */
function bars(id, labels, label, data) {
  const chart = charts[id];
  if (chart) {
    chart.data.labels = labels;
    chart.data.datasets[0].data = data;
    chart.update();
    return;
  }
  charts[id] = new window.Chart(document.getElementById(id), {
    type: 'bar',
    data: { labels, datasets: [{ label, data, backgroundColor: '#1f6feb' }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } },
  });
}

function showStats(stats) {
  const { cost } = stats;
  fill('as-of', `as of ${when(cost.as_of)}`);
  fill('live-records', count(stats.live_records));
  fill('live-bytes', bytes(cost.live.bytes));
  fill('archived-records', count(stats.archived_records));
  fill('archived-bytes', bytes(stats.archived_bytes));
  const now = cost.live.usd_per_month + cost.archive.usd_per_month;
  const without = cost.live.usd_per_month + cost.if_left_live.usd_per_month;
  fill('cost-now', usd(now));
  fill('cost-without', usd(without));
  const saving = cost.saving_usd_per_month;
  fill(
    'saving',
    saving >= 0 ? `archiving saves ${usd(saving)} a month` : `archiving costs ${usd(-saving)} more a month`,
  );
  const payback = cost.moving.payback_months;
  fill('payback', cost.moving.usd === null ? 'not priced' : months(payback.serverless));
  fill(
    'moving',
    cost.moving.usd === null
      ? `${count(cost.moving.records)} records moved in ${count(cost.moving.runs)} runs; request units are priced on Azure only`
      : `moving ${count(cost.moving.records)} records cost ${usd(cost.moving.usd.serverless)} serverless (provisioned: ${usd(cost.moving.usd.provisioned)}, pays back in ${months(payback.provisioned)})`,
  );
  fill('tiers-from', `(tiers from the ${cost.archive.blobs.tiers_from})`);
  const tiers = Object.entries(cost.archive.blobs.by_tier);
  fill(
    'tiers',
    tiers.length === 0
      ? el('p', { class: 'sub' }, 'Nothing archived yet.')
      : el(
          'table',
          {},
          el(
            'tr',
            {},
            el('th', {}, 'tier'),
            el('th', { class: 'num' }, 'blobs'),
            el('th', { class: 'num' }, 'bytes'),
            el('th', { class: 'num' }, 'a month'),
          ),
          tiers.map(([tier, t]) =>
            el(
              'tr',
              {},
              el('td', {}, tier),
              el('td', { class: 'num' }, count(t.blobs)),
              el('td', { class: 'num' }, bytes(t.bytes)),
              el('td', { class: 'num' }, usd(t.usd_per_month)),
            ),
          ),
        ),
  );
  const byMonth = stats.archived_by_month;
  bars(
    'chart-months',
    byMonth.map((m) => m.month),
    'records',
    byMonth.map((m) => m.count),
  );
}

function runLink(run) {
  return el('a', { href: `/console/runs/${encodeURIComponent(run.run_id)}` }, run.run_id);
}

function showRuns(runs) {
  const finished = runs.filter((run) => run.status !== 'running');
  fill(
    'runs',
    finished.length === 0
      ? el('p', { class: 'sub' }, 'No run yet.')
      : el(
          'table',
          {},
          el(
            'tr',
            {},
            ['run', 'started', 'outcome', 'archived', 'failed', 'duration', 'records/s'].map((h, i) =>
              el('th', i >= 3 ? { class: 'num' } : {}, h),
            ),
          ),
          finished.map((run) =>
            el(
              'tr',
              {},
              el('td', {}, runLink(run), run.dry_run ? ' (dry run)' : ''),
              el('td', {}, when(run.started_at)),
              statusCell(run.status),
              el('td', { class: 'num' }, count(run.archived)),
              el('td', { class: 'num' }, count(run.failed)),
              el('td', { class: 'num' }, duration(run.duration_ms)),
              el('td', { class: 'num' }, rate(run.archived, run.duration_ms)),
            ),
          ),
        ),
  );
  const chronological = finished.filter((run) => !run.dry_run).reverse();
  bars(
    'chart-runs',
    chronological.map((run) => run.started_at.slice(5, 19).replace('T', ' ')),
    'records archived',
    chronological.map((run) => run.archived),
  );
}

function showInProgress(runs) {
  const running = runs.filter((run) => run.status === 'running');
  fill(
    'in-progress',
    running.length === 0
      ? el('p', { class: 'sub' }, 'No run in progress.')
      : el(
          'table',
          {},
          running.map((run) => {
            // The run learns how many records are old enough page by page: the bar is of those found so far.
            const found = Math.max(run.eligible, run.archived + run.failed + run.skipped);
            return el(
              'tr',
              {},
              el('td', {}, runLink(run)),
              el(
                'td',
                {},
                el('progress', { max: Math.max(found, 1), value: run.archived + run.failed + run.skipped }),
              ),
              el(
                'td',
                {},
                `${count(run.archived)} of ${count(found)} found so far${run.limit ? ` (limit ${count(run.limit)})` : ''}`,
              ),
              el(
                'td',
                {},
                run.paused_at ? `paused by ${run.paused_by}` : rate(run.archived, run.duration_ms),
              ),
            );
          }),
        ),
  );
}

function showHolds(holds) {
  fill(
    'holds',
    holds.items.length === 0
      ? el('p', { class: 'sub' }, 'No record is under legal hold.')
      : el(
          'table',
          {},
          el(
            'tr',
            {},
            el('th', {}, 'record'),
            el('th', {}, 'since'),
            el('th', {}, 'by'),
            el('th', {}, 'reason'),
          ),
          holds.items.map((hold) =>
            el(
              'tr',
              {},
              el(
                'td',
                {},
                el('a', { href: `/console/records/${encodeURIComponent(hold.record_id)}` }, hold.record_id),
              ),
              el('td', {}, when(hold.since)),
              el('td', {}, hold.by),
              el('td', {}, hold.reason),
            ),
          ),
          holds.next_after ? el('tr', {}, el('td', { colspan: 4, class: 'sub' }, 'and more')) : null,
        ),
  );
}

function findingsText(findings) {
  const failing = ['missing', 'corrupt', 'unindexed']
    .filter((kind) => findings[kind] > 0)
    .map((kind) => `${count(findings[kind])} ${kind}`);
  return failing.length === 0 ? 'none missing or corrupt' : failing.join(', ');
}

function showVerifications(passes) {
  const [last] = passes;
  fill(
    'verified-since',
    last && Date.now() - Date.parse(last.finished_at) > VERIFY_STALE_MS
      ? `(none for ${Math.floor((Date.now() - Date.parse(last.finished_at)) / 86_400_000)} days)`
      : '',
  );
  if (!last) {
    fill(
      'verifications',
      el(
        'p',
        { class: 'sub' },
        'No verify pass yet: `billing-archive verify` checks every archived record against its SHA-256.',
      ),
    );
    return;
  }
  const problems = last.problems ?? [];
  fill(
    'verifications',
    el(
      'table',
      {},
      el(
        'tr',
        {},
        ['finished', 'outcome', 'entries', 'findings', 'orphans', 'duration', 'by'].map((h, i) =>
          el('th', i === 2 || i === 4 || i === 5 ? { class: 'num' } : {}, h),
        ),
      ),
      passes.map((pass) =>
        el(
          'tr',
          {},
          el('td', {}, when(pass.finished_at)),
          statusCell(pass.outcome),
          el('td', { class: 'num' }, pass.checked ? count(pass.checked.entries) : '–'),
          el(
            'td',
            {},
            pass.findings ? findingsText(pass.findings) : (pass.error ?? ''),
            pass.repair && pass.repaired ? `; repaired ${count(pass.repaired.entries_rebuilt)} entries` : '',
          ),
          el('td', { class: 'num' }, pass.findings ? count(pass.findings.orphans) : '–'),
          el('td', { class: 'num' }, duration(pass.duration_ms)),
          el('td', {}, pass.started_by),
        ),
      ),
    ),
    problems.length === 0
      ? null
      : el(
          'ul',
          { id: 'verify-problems' },
          problems.map((problem) =>
            el(
              'li',
              {},
              `${problem.kind}: `,
              problem.id
                ? el('a', { href: `/console/records/${encodeURIComponent(problem.id)}` }, problem.id)
                : problem.blob,
              ` (${problem.message})`,
            ),
          ),
        ),
  );
}

async function refresh() {
  await Promise.all([
    // catch after then: a failure while drawing is shown too, not only a failed request.
    api('/stats')
      .then(showStats)
      .catch((error) => showFailure('tiers', error)),
    api(`/archive/runs?limit=${RUNS_SHOWN}`)
      .then((runs) => {
        showRuns(runs.items);
        showInProgress(runs.items);
      })
      .catch((error) => showFailure('runs', error)),
    api('/legal-holds?limit=20')
      .then(showHolds)
      .catch((error) => showFailure('holds', error)),
    api(`/archive/verifications?limit=${VERIFICATIONS_SHOWN}`)
      .then((passes) => showVerifications(passes.items))
      .catch((error) => showFailure('verifications', error)),
  ]);
}

async function refreshProgress() {
  const runs = await api(`/archive/runs?limit=${RUNS_SHOWN}`);
  showInProgress(runs.items);
}

document.getElementById('find-record').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = document.getElementById('record-id').value.trim();
  if (id) location.assign(`/console/records/${encodeURIComponent(id)}`);
});

await header();
await refresh();
setInterval(() => void refresh().catch(() => undefined), REFRESH_MS);
setInterval(() => void refreshProgress().catch(() => undefined), PROGRESS_MS);
