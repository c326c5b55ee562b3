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
    return url.origin === location.origin ? `${url.pathname}${url.search}` : '/';
  } catch {
    return '/';
  }
}

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
