// One record wherever it lives: its fields, what happened to it, and its legal hold.
import { api, el, fill, header, showFailure, when } from './common.js';

const id = decodeURIComponent(location.pathname.slice('/console/records/'.length));
const path = `/billing/${encodeURIComponent(id)}`;

function showRecord(record, source) {
  fill('record-source', source === 'archive' ? '(archived)' : '(live)');
  fill(
    'record',
    el(
      'dl',
      {},
      Object.entries(record).flatMap(([name, value]) => [
        el('dt', {}, name),
        el(
          'dd',
          { 'data-field': name },
          typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value),
        ),
      ]),
    ),
  );
}

function showHistory(history) {
  fill(
    'history',
    el(
      'table',
      {},
      el('tr', {}, el('th', {}, 'when'), el('th', {}, 'what'), el('th', {}, 'by'), el('th', {}, 'detail')),
      history.events.map((event) =>
        el(
          'tr',
          {},
          el('td', {}, when(event.at)),
          el('td', {}, event.event),
          el('td', {}, event.by ?? ''),
          el('td', {}, event.detail ?? ''),
        ),
      ),
    ),
    history.audit_hidden ? el('p', { class: 'sub' }, 'Who made each change is shown to admins only.') : null,
  );
}

function showHold(view) {
  fill(
    'hold',
    el(
      'p',
      {},
      view.legal_hold
        ? `Held since ${when(view.hold.since)} by ${view.hold.by}: ${view.hold.reason}`
        : 'Not under legal hold.',
    ),
    view.history.length === 0
      ? null
      : el(
          'table',
          {},
          view.history.map((change) =>
            el(
              'tr',
              {},
              el('td', {}, when(change.at)),
              el('td', {}, change.action),
              el('td', {}, change.by),
              el('td', {}, change.reason),
            ),
          ),
        ),
  );
}

await header();
fill('record-id', id);
try {
  const response = await fetch(path, { credentials: 'same-origin' });
  const body = await response.json();
  // 202: archived in the Archive tier, being rehydrated; the body says when to look again.
  if (response.status === 202)
    throw new Error(`${body.message}; look again in ${Math.ceil(body.retry_after_seconds / 60)} minutes`);
  if (!response.ok) throw new Error(body.message);
  showRecord(body, response.headers.get('x-record-source'));
} catch (error) {
  showFailure('record', error);
}
await Promise.all([
  // catch after then: a failure while drawing is shown too, not only a failed request.
  api(`${path}/history`)
    .then(showHistory)
    .catch((error) => showFailure('history', error)),
  api(`${path}/legal-hold`)
    .then(showHold)
    .catch((error) => showFailure('hold', error)),
]);
