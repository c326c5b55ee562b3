// What every console page shares: the API through the session cookie, the header, and formatting.
// Everything shown is set as text, never as HTML: record fields come from callers.

/** Calls the API with the session cookie; a page whose session ended goes back to the sign-in form. */
export async function api(path) {
  const response = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (response.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new Error('signed out');
  }
  const body = await response.json().catch(() => null);
  // 202 is no success here: an archived copy is being rehydrated, and the body says when to ask again.
  if (response.status !== 200) throw new Error(body?.message ?? `${path} answered ${response.status}`);
  return body;
}

/** Builds an element; children are nodes or text, never parsed as HTML. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replaces what `id` holds. */
export function fill(id, ...children) {
  const target = document.getElementById(id);
  target.replaceChildren(...children.flat().filter((child) => child !== undefined && child !== null));
  return target;
}

/** The bar on top of every page: where to go, who is signed in, and signing out. */
export async function header() {
  const session = await api('/session');
  const signOut = el('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    await fetch('/session', {
      method: 'DELETE',
      credentials: 'same-origin',
      headers: { 'x-csrf-token': session.csrf_token ?? '' },
    });
    location.assign('/login');
  });
  const who = session.identity.name ?? session.identity.id;
  document.body.prepend(
    el(
      'header',
      { class: 'bar' },
      el('a', { href: '/' }, el('strong', {}, 'billing-archive')),
      el('a', { href: '/' }, 'Dashboard'),
      el('a', { href: '/docs' }, 'API docs'),
      el('span', { class: 'who', id: 'who' }, `${who} · ${session.identity.roles.join(', ')}`),
      session.csrf_token ? signOut : null,
    ),
  );
  return session;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function count(value) {
  return value === null || value === undefined ? '—' : integer.format(value);
}

export function bytes(value) {
  if (value === null || value === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${units[unit]}`;
}

/** Dollars to the cent, or to three significant digits below one (trial archives cost fractions of one). */
export function usd(value) {
  if (value === null || value === undefined) return '—';
  const size = Math.abs(value);
  return `$${size >= 0.01 || size === 0 ? value.toFixed(2) : value.toPrecision(3)}`;
}

export function months(value) {
  return value === null || value === undefined ? 'never' : `${value.toFixed(1)} months`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  return seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}

/** Records a second over the run's time; none for a run shorter than a millisecond. */
export function rate(records, ms) {
  return ms > 0 ? `${(records / (ms / 1000)).toFixed(1)}/s` : '—';
}

/** A time as UTC to the second; a value that is no instant (a live document may hold one) as it is. */
export function when(iso) {
  if (!iso) return '—';
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return String(iso);
  return time
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function statusCell(status) {
  return el('td', { class: `status-${status}` }, status);
}

/** Shows a failure where the page's content would be, in words. */
export function showFailure(id, error) {
  fill(id, el('p', { class: 'error', role: 'alert' }, `Could not load: ${error.message}`));
}
