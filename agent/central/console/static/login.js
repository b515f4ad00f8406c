// The login form: posts name and password as JSON; the session cookie comes back HttpOnly.
const form = document.getElementById('login');
const error = document.getElementById('login-error');
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  const body = JSON.stringify({ name: form.name.value, password: form.password.value });
  try {
    const r = await fetch('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, credentials: 'same-origin' });
    if (r.ok) {
      location.assign('/');
      return;
    }
    const j = await r.json().catch(() => ({}));
    error.textContent = j.error || `login failed (${r.status})`;
  } catch (e) {
    error.textContent = `the console does not answer (${e.message})`;
  }
  error.hidden = false;
  form.password.value = '';
  form.password.focus();
});
