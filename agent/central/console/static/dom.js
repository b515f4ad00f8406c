// DOM helpers of the console: elements built with textContent only (agent-supplied strings are
// never parsed as HTML), SVG elements, times and levels.
export const LEVELS = ['normal', 'elevated', 'high', 'severe'];
export const LEVEL_COLORS = { normal: '#2f6fde', elevated: '#d9a600', high: '#ea6a0c', severe: '#d42020' };

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** h('td', {class: 'x'}, 'text', child) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  return append(el, children);
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(el, attrs);
  return append(el, children);
}

const pad = (n) => String(n).padStart(2, '0');
export function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}
export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const badge = (text, cls, attrs = {}) => h('span', { class: `badge ${cls}`, ...attrs }, text);
export const levelBadge = (level) => badge(level, `level-${level}`, { 'data-level': level });
export const sevBadge = (sev) => badge(sev, `sev-${sev}`);
export const chainBadge = (state) => badge(state === 'verified' ? 'chain verified' : state === 'gap' ? 'chain gap' : 'chain broken', `chain-${state}`, { 'data-chain': state });
export const link = (href, ...children) => h('a', { href }, ...children);
export const alertHref = (id) => `#/alert/${encodeURIComponent(id)}`;
export const siteHref = (site) => `#/site/${encodeURIComponent(site)}`;

/** A table: columns [label], rows [[cell]], and attributes per row. */
export function table(cls, columns, rows, rowAttrs = () => ({})) {
  return h('table', { class: cls }, h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))), h('tbody', {}, rows.map((r, i) => h('tr', rowAttrs(i), r.map((c) => h('td', {}, c))))));
}

export function identityText(identity) {
  if (!identity || typeof identity !== 'object') return 'not read yet';
  return Object.entries(identity)
    .slice(0, 4)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(', ');
}
