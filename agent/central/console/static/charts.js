// The console's charts, drawn as SVG here (no library, nothing from the network): a site's
// warning level over time (colour band plus score line), a small strip of it for the overview,
// and a device's risk score over time.
import { clock, LEVEL_COLORS, LEVELS, s } from './dom.js';

/** The time window worth drawing: from the first step (not before `since`) to now, at least a minute. */
export function windowOf(steps, since, now) {
  let from = steps.length > 0 ? Math.max(since, steps[0].ms) : now - 3600_000;
  if (now - from < 60_000) from = now - 60_000;
  return { from, to: now };
}

function segments(steps, from, to) {
  const out = [];
  steps.forEach((st, i) => {
    const a = Math.max(from, st.ms);
    const b = Math.min(to, i + 1 < steps.length ? steps[i + 1].ms : to);
    if (b > a || (i === steps.length - 1 && a <= to)) out.push({ ...st, a, b: Math.max(a, b) });
  });
  return out;
}

function timeTicks(from, to, x, y, n = 5) {
  const g = s('g', { class: 'ticks' });
  for (let i = 0; i <= n; i++) {
    const t = from + ((to - from) * i) / n;
    g.append(s('text', { x: x(t), y, 'text-anchor': i === 0 ? 'start' : i === n ? 'end' : 'middle' }, clock(t)));
  }
  return g;
}

/** A site's warning-level timeline: the level as a colour band, the score (0-100) as a line. */
export function levelTimeline(steps, since, now, { width = 900, height = 170 } = {}) {
  const { from, to } = windowOf(steps, since, now);
  const L = 8, R = 8, bandY = 8, bandH = 26, plotY = 46, plotH = height - plotY - 22;
  const x = (t) => L + ((t - from) / (to - from)) * (width - L - R);
  const y = (v) => plotY + plotH - (Math.max(0, Math.min(100, v)) / 100) * plotH;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart timeline', role: 'img', 'aria-label': 'warning level over time' });
  svg.append(s('rect', { x: L, y: bandY, width: width - L - R, height: bandH, fill: '#e8ebf0' }));
  const segs = segments(steps, from, to);
  for (const g of segs) {
    svg.append(s('rect', { x: x(g.a), y: bandY, width: Math.max(2, x(g.b) - x(g.a)), height: bandH, fill: LEVEL_COLORS[g.level] || '#999', 'data-level': g.level }, s('title', {}, `${g.level} (score ${g.score}) from ${clock(g.a)}`)));
  }
  for (const v of [0, 50, 100]) {
    svg.append(s('line', { x1: L, x2: width - R, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(s('text', { x: width - R - 2, y: y(v) - 2, 'text-anchor': 'end', class: 'axis' }, String(v)));
  }
  if (segs.length > 0) {
    let d = '';
    segs.forEach((g, i) => (d += `${i === 0 ? 'M' : 'L'}${x(g.a).toFixed(1)},${y(g.score).toFixed(1)} H${x(g.b).toFixed(1)} `));
    svg.append(s('path', { d, class: 'score-line' }));
  } else {
    svg.append(s('text', { x: width / 2, y: plotY + plotH / 2, 'text-anchor': 'middle', class: 'axis' }, 'no warning-level history yet'));
  }
  svg.append(timeTicks(from, to, x, height - 6));
  return svg;
}

/** The overview's small version: only the band. */
export function levelStrip(steps, since, now, { width = 300, height = 14 } = {}) {
  const { from, to } = windowOf(steps, since, now);
  const x = (t) => ((t - from) / (to - from)) * width;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart strip', preserveAspectRatio: 'none', role: 'img', 'aria-label': 'warning level over time' });
  svg.append(s('rect', { x: 0, y: 0, width, height, fill: '#e8ebf0' }));
  for (const g of segments(steps, from, to)) svg.append(s('rect', { x: x(g.a), y: 0, width: Math.max(1.5, x(g.b) - x(g.a)), height, fill: LEVEL_COLORS[g.level] || '#999' }));
  return svg;
}

const scoreColor = (v) => (v >= 75 ? LEVEL_COLORS.severe : v >= 50 ? LEVEL_COLORS.high : v >= 25 ? LEVEL_COLORS.elevated : LEVEL_COLORS.normal);

/** A device's risk score over time as a step area, coloured by its latest score. */
export function riskChart(series, since, now, { width = 260, height = 48 } = {}) {
  const steps = series.map((p) => ({ ms: p.ms, score: p.score }));
  const { from, to } = windowOf(steps, since, now);
  const x = (t) => ((Math.max(from, t) - from) / (to - from)) * width;
  const y = (v) => height - 2 - (Math.max(0, Math.min(100, v)) / 100) * (height - 4);
  const last = steps.length > 0 ? steps[steps.length - 1].score : 0;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart risk', role: 'img', 'aria-label': `risk score over time, now ${last}`, 'data-score': last });
  svg.append(s('rect', { x: 0, y: 0, width, height, class: 'risk-bg' }));
  if (steps.length === 0) return svg;
  let d = `M0,${y(0)} `;
  steps.forEach((p, i) => {
    const b = i + 1 < steps.length ? steps[i + 1].ms : to;
    d += `L${x(p.ms).toFixed(1)},${y(i === 0 ? 0 : steps[i - 1].score).toFixed(1)} L${x(p.ms).toFixed(1)},${y(p.score).toFixed(1)} L${x(b).toFixed(1)},${y(p.score).toFixed(1)} `;
  });
  d += `L${width},${y(0)} Z`;
  svg.append(s('path', { d, fill: scoreColor(last), 'fill-opacity': 0.35, stroke: scoreColor(last), 'stroke-width': 1.5 }));
  return svg;
}

export const levelLegend = () =>
  s('svg', { viewBox: '0 0 420 16', class: 'legend' }, LEVELS.map((l, i) => [s('rect', { x: i * 105, y: 3, width: 12, height: 10, fill: LEVEL_COLORS[l] }), s('text', { x: i * 105 + 16, y: 12 }, l)]));
