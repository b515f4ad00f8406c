// Learning a tag's grid (ADC counts times a scale, set-points typed with two decimals) from a
// window that may hold injected values: its step, and how far from it the tag's values were.
import { findGrid, FLOAT32_SLACK, offGrid } from '../grid.js';
import type { LearnOptions } from './options.js';
import type { TagStats } from './stats.js';

/** Distinct values a grid needs on it (a float lands on a grid by chance one time in 25: eight in a row do not). */
const MIN_GRID_POINTS = 8;

/**
 * The grid a tag's values lie on, robust to injected values: candidates are the grid found on the
 * most frequent distinct values inside its robust bounds (doubling their number while a grid
 * fits) and the decimal grids (entry precision: 1, 0.1, 0.01, ...); the coarsest one kept is one
 * that all but core_share of the samples inside the bounds lie on, with at least MIN_GRID_POINTS
 * distinct values (a float lands on a grid by chance one time in 25: eight in a row do not).
 */
export function robustGrid(col: Float64Array, s: TagStats, o: LearnOptions): LearnedGrid | undefined {
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
  let best: Omit<LearnedGrid, 'tolerance'> | undefined;
  for (const step of steps) {
    // a float32 value is only good to about 1e-6 of itself: a step that fine catches anything
    if (!(step > 0) || span / step > 1e6 || (FLOAT32_SLACK * s.magnitude) / step > 0.05 || (best && best.step >= step)) continue;
    // values between 0 and the first grid point say nothing about the grid (junk words decode to
    // them): they count neither way here, and are off the grid once it is found
    let on = 0, points = 0, near0 = 0;
    for (const [v, c] of counts) {
      if (v !== 0 && Math.abs(v) < step / 2) near0 += c;
      else if (!offGrid(v, step)) (on += c), points++;
    }
    const share = on / (inside - near0);
    if (points >= MIN_GRID_POINTS && share >= 1 - o.core_share) best = { step, points, share };
  }
  return best && { ...best, tolerance: gridTolerance(counts, best.step, o) };
}

export interface LearnedGrid {
  step: number;
  /** distinct values on it */
  points: number;
  /** share of the samples within the bounds on it */
  share: number;
  /** how far from a grid point a value may be, as a share of step (the grid detector's `tolerance`) */
  tolerance: number;
}

/** The grid detector's default tolerance (a share of step): the most a learned one may be. */
const GRID_TOLERANCE = 0.02;
/** The least a learned tolerance is: entries typed with two decimals lie on their grid to 1e-14. */
const MIN_GRID_TOLERANCE = 0.001;

/**
 * How far from its grid points a tag's values were (beyond a float32's rounding), as a share of
 * step: 4 x what all but rare_share of the samples on the grid stayed within, between
 * MIN_GRID_TOLERANCE and GRID_TOLERANCE. Entries typed with two decimals lie on their grid to
 * 1e-14, so a write of 0.240134 to a 0.01 grid is off it; values printed with six digits (an ADC
 * step of 1/87) are off by up to about 0.005 of a step and keep that room.
 */
function gridTolerance(counts: ReadonlyMap<number, number>, step: number, o: LearnOptions): number {
  const offs: Array<[number, number]> = [];
  let n = 0;
  for (const [v, c] of counts) {
    if (v !== 0 && Math.abs(v) < step / 2) continue;
    if (offGrid(v, step)) continue;
    const k = v / step;
    offs.push([Math.max(0, Math.abs(k - Math.round(k)) - (FLOAT32_SLACK * Math.abs(v)) / step), c]);
    n += c;
  }
  offs.sort((a, b) => a[0] - b[0]);
  let seen = 0, q = 0;
  for (const [off, c] of offs) {
    q = off;
    seen += c;
    if (seen >= (1 - o.rare_share) * n) break;
  }
  return Math.min(GRID_TOLERANCE, Math.max(MIN_GRID_TOLERANCE, 4 * q));
}
