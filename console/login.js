// The sign-in form: the credential goes once, in the Authorization header, and is then forgotten.
const form = document.getElementById('signin');
const input = document.getElementById('credential');
const problem = document.getElementById('problem');

/**
 * Where to go once signed in: a page of this origin only, never another site. Parsed as the
 * browser would navigate to it (which drops tabs and newlines), then judged by its origin.
 */
function destination() {
  const next = new URLSearchParams(location.search).get('next') ?? '/';
  try {
    const url = new URL(next, location.origin);
    // A path can still begin '//' ('/.//evil.example' resolves so), which names another host.
    return url.origin === location.origin ? `/${url.pathname.replace(/^[/\\]+/, '')}${url.search}` : '/';
  } catch {
    return '/';
  }
}

/** Why a sign-in at the identity provider came back without a session (the server's ?failed=). */
const FAILED = {
  expired:
    'the sign-in at Entra ID was not started from this page, or took longer than 10 minutes: try again',
  denied: 'Entra ID did not sign you in (cancelled, or consent refused)',
  refused: 'the token Entra ID gave is not accepted here: an admin finds why in the audit trail',
  'no-role': 'you signed in at Entra ID, but hold no billing-archive role: ask an admin to assign you one',
  unavailable: 'Entra ID could not be reached, or refused this server: an admin finds why in the server log',
};
const failed = new URLSearchParams(location.search).get('failed');
if (failed) problem.textContent = `Not signed in: ${FAILED[failed] ?? 'the sign-in at Entra ID failed'}`;
document.getElementById('redirect-link').href = `/login/entra?next=${encodeURIComponent(destination())}`;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  problem.textContent = '';
  const credential = input.value.trim();
  input.value = '';
  const response = await fetch('/session', {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}` },
    credentials: 'same-origin',
  });
  if (response.ok) {
    location.assign(destination());
    return;
  }
  const body = await response.json().catch(() => ({ message: `the server answered ${response.status}` }));
  problem.textContent = `Not signed in: ${body.message}`;
});
