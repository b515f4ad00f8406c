// Learning robust to a window that is not clean: per tag, the grid its values lie on and its
// fastest real change; per device, the episodes in which any tag was odd, left out of the bounds
// learned in rounds; per diagnostics interval, what all but the rarest intervals stayed within.
import { findGrid } from '../grid.js';
import type { LearnOptions } from './options.js';
import { quantile, type CycleTable, type TagKind, type TagStats } from './stats.js';

/**
 * Fastest change per second between two consecutive good values of a column, leaving out the
 * jumps to or from a value outside the tag's robust bounds (an isolated value is not a state the
 * process moves through, so neither is the jump to it).
 */
export function robustRate(col: Float64Array, ts: readonly number[], s: TagStats): { rate: number; left_out: number } {
  let best = 0, left = 0;
  let pv = NaN, pt = NaN;
  const inside = (v: number) => !(s.lo === s.lo) || (v >= s.lo && v <= s.hi);
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (v !== v) continue;
    if (pv === pv && v !== pv && ts[i] > pt) {
      if (inside(v) && inside(pv)) best = Math.max(best, (Math.abs(v - pv) * 1000) / (ts[i] - pt));
      else left++;
    }
    pv = v;
    pt = ts[i];
  }
  return { rate: best, left_out: left };
}

/** A high quantile of per-interval counts: what all but the rarest intervals stayed within. */
export function robustCount(counts: readonly number[], o: LearnOptions): number {
  if (counts.length === 0) return 0;
  const s = Float64Array.from(counts).sort();
  return quantile(s, 1 - o.event_share);
}

/** Distinct values a grid needs on it (a float lands on a grid by chance one time in 25: eight in a row do not). */
const MIN_GRID_POINTS = 8;
/** Relative precision of a value that went through a float32 register (as the grid detector allows). */
const FLOAT32_SLACK = 1e-6;

/**
 * The grid a tag's values lie on, robust to injected values: candidates are the grid found on the
 * most frequent distinct values inside its robust bounds (doubling their number while a grid
 * fits) and the decimal grids (entry precision: 1, 0.1, 0.01, ...); the coarsest one kept is one
 * that all but core_share of the samples inside the bounds lie on, with at least MIN_GRID_POINTS
 * distinct values (a float lands on a grid by chance one time in 25: eight in a row do not).
 */
export function robustGrid(col: Float64Array, s: TagStats, o: LearnOptions): { step: number; points: number; share: number } | undefined {
  const counts = new Map<number, number>();
  let inside = 0;
  for (const v of col) {
    if (!(v >= s.lo && v <= s.hi)) continue;
    inside++;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  if (inside === 0) return undefined;
  const byCount = [...counts].sort((a, b) => b[1] - a[1]).map(([v]) => v);
  const steps: number[] = [];
  for (let k = 20; k <= 2 * byCount.length; k *= 2) {
    const g = findGrid(Float64Array.from(byCount.slice(0, k)));
    if (g === undefined) break;
    steps.push(g.step);
    if (k >= byCount.length) break;
  }
  for (let d = 0; d <= 6; d++) steps.push(10 ** -d);
  const span = s.hi - s.lo;
  let best: { step: number; points: number; share: number } | undefined;
  for (const step of steps) {
    // a float32 value is only good to about 1e-6 of itself: a step that fine catches anything
    if (!(step > 0) || span / step > 1e6 || (FLOAT32_SLACK * s.magnitude) / step > 0.05 || (best && best.step >= step)) continue;
    let on = 0, points = 0;
    for (const [v, c] of counts) {
      const x = v / step;
      if (Math.abs(x - Math.round(x)) <= 0.02 + (FLOAT32_SLACK * Math.abs(v)) / step) (on += c), points++;
    }
    const share = on / inside;
    if (points >= MIN_GRID_POINTS && share >= 1 - o.core_share) best = { step, points, share };
  }
  return best;
}

/** Rounds of settleDevice: each learns again without the episodes the previous bounds found odd. */
const SCREEN_ROUNDS = 4;

/**
 * Robust bounds of a device's tags in rounds. First every tag alone: its robust envelope, its
 * grid and its common values. A cycle in which any tag is odd (an isolated value, a value off its
 * grid, a rare value of a parameter) marks an episode: itself and the cycles within screen_ms of
 * it, since an attack or fault that shows in one tag moves others too. Bounds and common values
 * are then learned again without those episodes, and the tighter bounds may find more, until no
 * episode is added (a tag so often odd that its episodes would cover half the window marks none).
 * Returns the cycles left out.
 */
export function settleDevice(table: CycleTable, stats: readonly TagStats[], kinds: ReadonlyMap<string, TagKind>, o: LearnOptions): number {
  const cont = table.names.map((n, j) => j).filter((j) => kinds.get(table.names[j]) === 'continuous');
  const disc = table.names.map((n, j) => j).filter((j) => kinds.get(table.names[j]) === 'discrete');
  const cols = new Map([...cont, ...disc].map((j) => [j, table.column(j)]));
  for (const j of cont) stats[j].settle(cols.get(j)!, o);
  const n = table.rows.length;
  if (!(o.screen_ms > 0) || n === 0) return 0;
  const ts = table.ts;
  const episodes = (markers: number[][], base: Uint8Array): Uint8Array => {
    const out = new Uint8Array(n);
    out.set(base);
    const all = [...new Set(markers.flat())].sort((x, y) => x - y);
    let a = 0, b = 0;
    for (const i of all) {
      while (ts[a] < ts[i] - o.screen_ms) a++;
      b = Math.max(b, a);
      while (b < n && ts[b] <= ts[i] + o.screen_ms) out[b++] = 1;
      for (let k = a; k < i; k++) out[k] = 1;
    }
    return out;
  };
  const count = (x: Uint8Array) => x.reduce((p, q) => p + q, 0);
  let out: Uint8Array = new Uint8Array(n);
  let left = 0;
  for (let round = 0; round < SCREEN_ROUNDS; round++) {
    const oddOf: number[][] = [];
    for (const j of [...cont, ...disc]) {
      const col = cols.get(j)!;
      const kind = kinds.get(table.names[j])!;
      const step = kind === 'continuous' && !stats[j].allInteger ? robustGrid(col, stats[j], o)?.step : undefined;
      const rows: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = col[i];
        if (v !== v || out[i]) continue;
        const off = step !== undefined && Math.abs(v / step - Math.round(v / step)) > 0.02 + (FLOAT32_SLACK * Math.abs(v)) / step;
        if (off || stats[j].odd(v, kind, o)) rows.push(i);
      }
      if (rows.length > 0) oddOf.push(rows);
    }
    // most odd tag last: dropped first when the episodes would cover half the window
    oddOf.sort((x, y) => x.length - y.length);
    let next = episodes(oddOf, out);
    while (oddOf.length > 0 && count(next) > n / 2) {
      oddOf.pop();
      next = episodes(oddOf, out);
    }
    const k = count(next);
    if (k === left) break;
    out = next;
    left = k;
    for (const j of cont) {
      const col = Float64Array.from(cols.get(j)!);
      for (let i = 0; i < n; i++) if (out[i]) col[i] = NaN;
      const before = stats[j].leftOut;
      stats[j].settle(col, o);
      stats[j].leftOut = Math.max(before, stats[j].leftOut);
    }
    for (const j of disc) stats[j].recount(cols.get(j)!, out);
  }
  for (const j of [...cont, ...disc]) stats[j].screened = left;
  return left;
}
