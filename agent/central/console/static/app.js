// The console's shell: the session, the router (#/, #/site/X, #/alerts, #/alert/ID, #/signals,
// #/findings), the live stream, and the API calls (state-changing ones carry the CSRF token).
import { h } from './dom.js';
import { renderAlert, renderAlerts, renderFindings, renderSignals, renderSite, renderSites, signalRow } from './pages.js';

const view = document.getElementById('view');
const state = { session: undefined, route: '', signalsTable: undefined };

export async function api(path, opts = {}) {
  const headers = { ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...(opts.method && opts.method !== 'GET' ? { 'X-CSRF-Token': state.session?.csrf ?? '' } : {}) };
  const r = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), credentials: 'same-origin' });
  if (r.status === 401) {
    location.assign('/login');
    throw new Error('logged out');
  }
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
  return j;
}

const ctx = {
  api,
  get session() {
    return state.session;
  },
  go: (hash) => (location.hash === hash ? refresh() : (location.hash = hash)),
  refresh: () => refresh(),
};

let rendering = false;
let again = false;
async function refresh() {
  if (rendering) return void (again = true);
  rendering = true;
  try {
    const route = location.hash.replace(/^#/, '') || '/';
    const [, page, arg] = route.split('/');
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (page || 'sites') || (page === 'site' && a.dataset.nav === 'sites') || (page === 'alert' && a.dataset.nav === 'alerts'));
    let node;
    if (!page) node = await renderSites(ctx);
    else if (page === 'site') node = await renderSite(ctx, decodeURIComponent(arg || ''));
    else if (page === 'alerts') node = await renderAlerts(ctx);
    else if (page === 'alert') node = await renderAlert(ctx, decodeURIComponent(arg || ''));
    else if (page === 'signals') node = await renderSignals(ctx);
    else if (page === 'findings') node = await renderFindings(ctx);
    else node = h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Back to the sites.'));
    // Keep what the user is typing in a form across live refreshes of the same page.
    const typing = document.activeElement && view.contains(document.activeElement) && ['INPUT', 'TEXTAREA'].includes(document.activeElement.tagName);
    if (!(typing && state.route === route)) view.replaceChildren(node);
    state.route = route;
    state.signalsTable = page === 'signals' ? view.querySelector('tbody') : undefined;
  } catch (e) {
    if (e.message !== 'logged out') view.replaceChildren(h('p', { class: 'error', role: 'alert' }, `Could not load this page: ${e.message}`));
  } finally {
    rendering = false;
    if (again) {
      again = false;
      void refresh();
    }
  }
}

// A burst of events (an attack raises many signals at once) makes one refresh, and a steady stream
// one every half second: the first event sets the timer, the ones after it wait for it.
let timer;
function soon() {
  if (timer !== undefined) return;
  timer = setTimeout(() => {
    timer = undefined;
    void refresh();
  }, 500);
}

function live() {
  const es = new EventSource('/api/events');
  const dot = document.getElementById('live');
  es.onopen = () => dot.classList.add('on');
  es.onerror = () => dot.classList.remove('on');
  es.addEventListener('signal', (ev) => {
    if (state.signalsTable) {
      state.signalsTable.prepend(signalRow(JSON.parse(ev.data), true));
      while (state.signalsTable.rows.length > 500) state.signalsTable.deleteRow(-1);
    } else soon();
  });
  for (const t of ['finding', 'agent', 'assets', 'step']) es.addEventListener(t, soon);
}

async function start() {
  try {
    state.session = await api('/api/session');
  } catch {
    return;
  }
  document.body.dataset.role = state.session.role;
  document.getElementById('who').textContent = `${state.session.name} (${state.session.role === 'viewer' ? 'read-only' : state.session.role})`;
  document.getElementById('logout').addEventListener('click', async () => {
    await api('/api/logout', { method: 'POST', body: {} }).catch(() => undefined);
    location.assign('/login');
  });
  addEventListener('hashchange', refresh);
  live();
  // Other central processes on the same store do not reach this one's stream: look again now and then.
  setInterval(soon, 15_000);
  await refresh();
}

void start();
