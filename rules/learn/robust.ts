// Learning robust to a window that is not clean: per tag, its fastest real change and the entries
// of a set-point far beyond the rest; per device, the episodes in which any tag was odd (beyond
// its bounds, off its grid, a transient, a lone state combination, a counter event), left out of
// the bounds learned in rounds; per diagnostics interval, what all but the rarest stayed within.
import { offGrid } from '../grid.js';
import { robustGrid } from './grid.js';
import type { LearnOptions } from './options.js';
import { quantile, type CycleTable, type TagKind, type TagStats } from './stats.js';
import { briefValues, holdsValues, revertedChanges, type BriefValue } from './transients.js';
import { loneCombinations } from './states.js';

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

/** Smallest normal float32: a register value closer to 0 (but not 0) is a subnormal. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * A subnormal float32 value (0 < |v| < 1.2e-38) comes out of no measurement chain: an ADC count
 * scaled to engineering units is 0 or at least its resolution. It is what random or mis-decoded
 * register words give, so it is odd wherever it appears.
 */
export function subnormal(v: number): boolean {
  return v !== 0 && Math.abs(v) < FLOAT32_MIN_NORMAL;
}

/**
 * Entries of a set-point (a tag that holds its values) far beyond the entries it was kept at: seen
 * in fewer than rare_share of the cycles, and farther beyond the most extreme frequent entry (one
 * seen in at least rare_share of them) than gap_factor times the frequent entries' mean spacing. An
 * extreme the operator would have entered and kept, but that was gone again within moments (an
 * attacker's write the master replaced); like the rare values of a discrete tag, not learned as
 * normal. A rare entry among or just beyond the frequent ones is a step on the operator's way.
 * NaN = cycle not used.
 */
export function rareEntries(col: Float64Array, o: LearnOptions): Set<number> {
  const counts = new Map<number, number>();
  let n = 0;
  for (const v of col) if (v === v) (counts.set(v, (counts.get(v) ?? 0) + 1), n++);
  const frequent = [...counts].filter(([, c]) => c >= o.rare_share * n).map(([v]) => v);
  const out = new Set<number>();
  // fewer than two frequent entries give no spacing to judge by
  if (frequent.length < 2) return out;
  const lo = Math.min(...frequent);
  const hi = Math.max(...frequent);
  const reach = (o.gap_factor * (hi - lo)) / (frequent.length - 1);
  for (const [v, c] of counts) if (c < o.rare_share * n && (v > hi + reach || v < lo - reach)) out.add(v);
  return out;
}

/** The row of the latest cycle at or before each time (ts ascending), once each. */
function cyclesAt(ts: readonly number[], times: readonly number[]): number[] {
  const rows = new Set<number>();
  for (const t of times) {
    let a = 0, b = ts.length - 1;
    if (b < 0 || ts[0] > t) continue;
    while (a < b) {
      const m = (a + b + 1) >> 1;
      if (ts[m] <= t) a = m;
      else b = m - 1;
    }
    rows.add(a);
  }
  return [...rows].sort((x, y) => x - y);
}

/** Rounds of settleDevice: each learns again without the episodes the previous bounds found odd. */
const SCREEN_ROUNDS = 4;
/** What settleDevice left out: the cycles of odd episodes, and per measurement the values it only visited briefly. */
export interface Screen {
  screened: Uint8Array;
  brief: Map<number, BriefValue[]>;
}

/**
 * Learn the bounds of a device's measurements without its odd episodes, in rounds: cycles where a
 * tag was odd (beyond its bounds, off its grid, a subnormal, a rare entry or state, a transient)
 * and where the device's diagnostic counters showed an event (`events`: times, from FactStats)
 * are left out with the episodes around them, while normal operation stays the majority.
 */
export function settleDevice(table: CycleTable, stats: readonly TagStats[], kinds: ReadonlyMap<string, TagKind>, o: LearnOptions, events: readonly number[] = []): Screen {
  const cont = table.names.map((_, j) => j).filter((j) => kinds.get(table.names[j]) === 'continuous');
  const disc = table.names.map((_, j) => j).filter((j) => kinds.get(table.names[j]) === 'discrete');
  const cols = new Map([...cont, ...disc].map((j) => [j, table.column(j)]));
  for (const j of cont) stats[j].settle(cols.get(j)!, o);
  const n = table.rows.length;
  const brief = new Map<number, BriefValue[]>();
  if (!(o.screen_ms > 0) || n === 0) return { screened: new Uint8Array(n), brief };
  const ts = table.ts;
  for (const j of cont) {
    const b = briefValues(cols.get(j)!, ts, o.revert_ms, o);
    if (b.length > 0) brief.set(j, b);
  }
  // odd from the start: transients (set-points that came back, values a measurement only visited)
  // and the cycles in which the counters showed an event (a scan, another master's odd requests)
  const fromStart = [...[...cont, ...disc].map((j) => revertedChanges(cols.get(j)!, ts, o.revert_ms)), ...[...brief.values()].map((b) => b.flatMap((x) => x.rows)), cyclesAt(ts, events)].filter((rows) => rows.length > 0);
  /** The cycles of `base` and of `bare`, and the episodes (screen_ms either side) around the cycles of `halo`. */
  const screen = (base: Uint8Array, bare: readonly number[][], halo: readonly number[][]): Uint8Array => {
    const out = Uint8Array.from(base);
    for (const rows of bare) for (const i of rows) out[i] = 1;
    const all = [...new Set(halo.flat())].sort((x, y) => x - y);
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
  const setpoints = new Set(cont.filter((j) => holdsValues(cols.get(j)!)));
  const states = new Map(disc.filter((j) => stats[j].distinct.size <= o.max_premise_values).map((j) => [j, cols.get(j)!]));
  let out: Uint8Array = new Uint8Array(n);
  let left = 0;
  for (let round = 0; round < SCREEN_ROUNDS; round++) {
    const oddOf: number[][] = [...fromStart];
    const lone = loneCombinations(states, out);
    if (lone.length > 0) oddOf.push(lone);
    for (const j of [...cont, ...disc]) {
      const kind = kinds.get(table.names[j])!;
      // the grid and entries of the cycles not yet left out (an attack's off-grid values would hide the grid)
      const kept = table.columnWithout(j, out);
      const step = kind === 'continuous' && !stats[j].allInteger ? robustGrid(kept, stats[j], o)?.step : undefined;
      const rare = setpoints.has(j) ? rareEntries(kept, o) : undefined;
      const rows: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = kept[i];
        if (v !== v) continue;
        const off = step !== undefined && offGrid(v, step);
        if (off || stats[j].odd(v, kind, o) || subnormal(v) || rare?.has(v)) rows.push(i);
      }
      if (rows.length > 0) oddOf.push(rows);
    }
    // Normal operation is most of the window: the odd cycles themselves first (the most odd tag's
    // left out while they would cover half of it), then the episodes around them, least odd tag first.
    oddOf.sort((x, y) => x.length - y.length);
    while (oddOf.length > 0 && count(screen(out, oddOf, [])) > n / 2) oddOf.pop();
    let next = screen(out, oddOf, []);
    const halos: number[][] = [];
    for (const rows of oddOf) {
      const wider = screen(out, oddOf, [...halos, rows]);
      if (count(wider) > n / 2) continue;
      halos.push(rows);
      next = wider;
    }
    const k = count(next);
    if (k === left) break;
    out = next;
    left = k;
    for (const j of cont) {
      const col = table.columnWithout(j, out);
      const before = stats[j].leftOut;
      stats[j].settle(col, o);
      stats[j].leftOut = Math.max(before, stats[j].leftOut);
    }
    for (const j of disc) stats[j].recount(cols.get(j)!, out);
  }
  for (const j of [...cont, ...disc]) stats[j].screened = left;
  return { screened: out, brief };
}
