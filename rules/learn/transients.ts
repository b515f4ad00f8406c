// Transients: what a tag did only for a moment while learning, and so is no operating state to
// learn. A set-point or state that left a value and came back to it shortly after; a measurement
// that kept jumping to one exact value and back. Both are what an injected write or response
// looks like when the master or the process overwrites it, and both are left out of the bounds
// (settleDevice in robust.ts).
import type { LearnOptions } from './options.js';

/** A tag that changes between at most this share of its consecutive cycles holds its values (a set-point, a state). */
const HOLD_SHARE = 0.05;

/**
 * Whether a tag holds its values (a set-point, a tuning parameter, a mode, a pump state): it
 * changed between at most HOLD_SHARE of its consecutive known cycles. A measurement moves.
 */
export function holdsValues(col: Float64Array): boolean {
  let pairs = 0, changes = 0, pv = NaN;
  for (const v of col) {
    if (v !== v) continue;
    if (pv === pv) (pairs++, v !== pv && changes++);
    pv = v;
  }
  return pairs > 0 && changes <= HOLD_SHARE * pairs;
}

/** A value whose cycles were at least this share in transients is a transient value as a whole. */
const MOSTLY_TRANSIENT = 0.5;

/**
 * Changes of a tag that holds its values (a set-point, a mode, a pump state) that were undone
 * within windowMs: the tag left a value and came back to exactly that value. Normal operation
 * holds what it writes; a value that came and went within a minute is a transient (an injected
 * write the master overwrote, a glitch), not an operating state to learn. A value the tag spent
 * at least MOSTLY_TRANSIENT of its cycles at in such transients is one as a whole, also where a
 * visit to it lasted longer (an attacker's favourite value, written again and again). Returns the
 * rows the tag spent away from its value and at such values, in order ([] for a tag that does not
 * hold its values, a measurement).
 */
export function revertedChanges(col: Float64Array, ts: readonly number[], windowMs: number): number[] {
  if (!holdsValues(col)) return [];
  const away = new Uint8Array(col.length);
  let prev = -1;
  for (let k = 0; k < col.length; k++) {
    const v = col[k];
    if (v !== v) continue;
    const before = prev >= 0 ? col[prev] : NaN;
    prev = k;
    if (before !== before || v === before) continue;
    for (let m = k + 1; m < col.length && ts[m] - ts[k] <= windowMs; m++) {
      if (col[m] !== before) continue;
      away.fill(1, k, m);
      break;
    }
  }
  // per value: cycles at it, and of them in transients
  const share = new Map<number, [number, number]>();
  col.forEach((v, k) => {
    if (v !== v) return;
    const c = share.get(v) ?? [0, 0];
    c[0]++;
    c[1] += away[k];
    share.set(v, c);
  });
  const rows: number[] = [];
  col.forEach((v, k) => {
    const c = share.get(v);
    if (away[k] || (c !== undefined && c[1] >= MOSTLY_TRANSIENT * c[0])) rows.push(k);
  });
  return rows;
}

/** A value is an atom when it is at least this many times as frequent as each of its neighbours. */
const ATOM_FACTOR = 100;
/** Distinct values on each side an atom is compared with. */
const NEIGHBOURS = 4;
/** Visits an atom needs before its visits say anything about it. */
const MIN_VISITS = 3;

export interface BriefValue {
  value: number;
  /** cycles at the value */
  cycles: number;
  /** how many times as often as the most frequent of its neighbours */
  factor: number;
  visits: number;
  /** median time from arriving at the value to the first cycle away from it (ms) */
  median_visit_ms: number;
  /** the cycles at the value */
  rows: number[];
}

/**
 * Values a measurement only visited briefly: an atom (one exact value, seen in at least rare_share
 * of the cycles and ATOM_FACTOR times as often as each of the NEIGHBOURS nearest distinct values
 * on either side) that the tag usually left again within windowMs. A measurement that moves
 * through its range does not keep landing on one exact value and leaving it within seconds: that
 * is a constant being injected over and over (a response of 0 or -0 written into a pressure). A
 * value the process stays at (a stopped flow's 0, a sensor at its limit) is a state: its visits
 * last, and it is kept. [] for a tag that holds its values (revertedChanges judges those).
 */
export function briefValues(col: Float64Array, ts: readonly number[], windowMs: number, o: LearnOptions): BriefValue[] {
  if (!(windowMs > 0) || holdsValues(col)) return [];
  const counts = new Map<number, number>();
  let n = 0;
  for (const v of col) if (v === v) (counts.set(v, (counts.get(v) ?? 0) + 1), n++);
  const values = [...counts.keys()].sort((a, b) => a - b);
  const out: BriefValue[] = [];
  values.forEach((value, i) => {
    const c = counts.get(value)!;
    if (c < o.rare_share * n) return;
    const around = [...values.slice(Math.max(0, i - NEIGHBOURS), i), ...values.slice(i + 1, i + 1 + NEIGHBOURS)];
    const factor = c / Math.max(...around.map((x) => counts.get(x)!));
    if (!(factor >= ATOM_FACTOR)) return;
    const visits: number[] = [];
    const rows: number[] = [];
    let since = -1;
    for (let k = 0; k < col.length; k++) {
      const v = col[k];
      if (v !== v) continue;
      if (v === value) {
        rows.push(k);
        if (since < 0) since = k;
      } else if (since >= 0) {
        visits.push(ts[k] - ts[since]);
        since = -1;
      }
    }
    if (visits.length < MIN_VISITS) return;
    visits.sort((a, b) => a - b);
    const median = visits[visits.length >> 1];
    if (median < windowMs) out.push({ value, cycles: c, factor, visits: visits.length, median_visit_ms: median, rows });
  });
  return out;
}
