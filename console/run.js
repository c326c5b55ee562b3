// One archival run: its summary, refreshed while it runs.
import { api, bytes, count, duration, el, fill, header, rate, showFailure, when } from './common.js';

const runId = decodeURIComponent(location.pathname.slice('/console/runs/'.length));

function row(name, value) {
  return [el('dt', {}, name), el('dd', { 'data-field': name }, value)];
}

function show(run) {
  fill('run-status', el('span', { class: `status-${run.status}` }, run.status));
  fill(
    'run',
    el(
      'dl',
      {},
      row('started', `${when(run.started_at)}${run.started_by ? ` by ${run.started_by}` : ''}`),
      row('finished', when(run.finished_at)),
      row('duration', duration(run.duration_ms)),
      row('dry run', run.dry_run ? 'yes' : 'no'),
      row('older than', `${run.older_than_days} days`),
      row('eligible', count(run.eligible)),
      row('archived', count(run.archived)),
      row('records/s', rate(run.archived, run.duration_ms)),
      row('bytes', bytes(run.bytes)),
      row('skipped', count(run.skipped)),
      row('failed', count(run.failed)),
      row('batches', count(run.batches)),
      row('expired', count(run.expired)),
      row('kept on hold', count(run.kept_on_hold)),
      run.errors?.length
        ? row(
            'errors',
            el(
              'ul',
              {},
              run.errors.map((error) => el('li', { class: 'error' }, error)),
            ),
          )
        : [],
      run.notes?.length
        ? row(
            'notes',
            el(
              'ul',
              {},
              run.notes.map((note) => el('li', {}, note)),
            ),
          )
        : [],
    ),
    el('details', {}, el('summary', {}, 'The run as JSON'), el('pre', {}, JSON.stringify(run, null, 2))),
  );
}

await header();
fill('run-id', runId);
async function refresh() {
  try {
    const run = await api(`/archive/runs/${encodeURIComponent(runId)}`);
    show(run);
    if (run.status === 'running') setTimeout(() => void refresh(), 3_000);
  } catch (error) {
    showFailure('run', error);
  }
}
await refresh();
