// What learning keeps per tag while it streams (every sample counts) and per device per poll cycle
// (a bounded table of value snapshots, from which relations between tags are mined afterwards),
// and a tag's robust envelope: what normal operation occupies when the window is not clean.
import type { LearnOptions } from './options.js';

/** Distinct values tracked per tag before it counts as continuous. */
const MAX_TRACKED = 64;

export class TagStats {
  count = 0;
  bad = 0;
  min = Infinity;
  max = -Infinity;
  allInteger = true;
  /** numeric value -> occurrences, until more than MAX_TRACKED distinct values were seen */
  readonly distinct = new Map<number, number>();
  manyValues = false;
  /** string values (OPC UA strings, enumerations as text) */
  readonly strings = new Map<string, number>();
  manyStrings = false;
  /** largest |change| per second between two consecutive good values */
  maxRate = 0;
  ups = 0;
  downs = 0;
  /** robust bounds (settle): what normal operation occupies, isolated values left out */
  lo = NaN;
  hi = NaN;
  /** samples outside [lo, hi] */
  leftOut = 0;
  /** cycles of odd episodes the bounds were learned without (settleDevice) */
  screened = 0;
  private prevV = NaN;
  private prevTs = NaN;

  add(v: number, ts: number): void {
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (this.allInteger && !Number.isInteger(v)) this.allInteger = false;
    if (!this.manyValues) {
      this.distinct.set(v, (this.distinct.get(v) ?? 0) + 1);
      if (this.distinct.size > MAX_TRACKED) this.manyValues = true;
    }
    const pv = this.prevV;
    if (pv === pv && v !== pv) {
      if (v > pv) this.ups++;
      else this.downs++;
      const dt = ts - this.prevTs;
      if (dt > 0) {
        const r = (Math.abs(v - pv) * 1000) / dt;
        if (r > this.maxRate) this.maxRate = r;
      }
    }
    this.prevV = v;
    this.prevTs = ts;
  }

  addString(s: string): void {
    this.count++;
    if (this.manyStrings) return;
    this.strings.set(s, (this.strings.get(s) ?? 0) + 1);
    if (this.strings.size > MAX_TRACKED) this.manyStrings = true;
  }

  /** Fix the robust bounds from the tag's column of cycle values (after learning; NaN = not used). */
  settle(col: Float64Array, o: LearnOptions): void {
    // the resolution is not known yet: the smallest gap is the tolerance of the core's magnitude
    const core = robustEnvelope(col, { core: o.core_share, gap_factor: 0, min_gap: 0 });
    const e = robustEnvelope(col, envelopeOptions(o, o.noise * Math.max(Math.abs(core.lo), Math.abs(core.hi))));
    if (e.n === 0) return;
    this.lo = e.lo;
    this.hi = e.hi;
    this.leftOut = e.below + e.above;
  }

  /** Whether a value is outside what settle and common() consider normal. */
  odd(v: number, kind: TagKind, o: LearnOptions): boolean {
    if (v !== v) return false;
    if (kind === 'continuous') return this.lo === this.lo && (v < this.lo || v > this.hi);
    if (kind === 'discrete') return this.distinct.size > o.max_premise_values && (this.kept.get(v) ?? 0) < o.rare_share * this.keptCount;
    return false;
  }

  /** Count the values again over the cycles not left out (settleDevice). */
  recount(col: Float64Array, out: Uint8Array): void {
    const m = new Map<number, number>();
    let n = 0;
    for (let i = 0; i < col.length; i++) {
      const v = col[i];
      if (v !== v || out[i]) continue;
      m.set(v, (m.get(v) ?? 0) + 1);
      n++;
    }
    this.recounted = { values: m, count: n };
  }

  private recounted: { values: Map<number, number>; count: number } | undefined;
  private get kept(): Map<number, number> {
    return this.recounted?.values ?? this.distinct;
  }
  private get keptCount(): number {
    return this.recounted?.count ?? this.count;
  }

  /**
   * Values seen often enough to be normal (all of them for a tag of a few states, an on/off or a
   * mode, where a rare state is still a state; rare values of a many-valued parameter are left out).
   */
  common(o: LearnOptions): Array<[number, number]> {
    if (this.distinct.size <= o.max_premise_values) return [...this.distinct].sort((a, b) => a[0] - b[0]);
    const min = o.rare_share * this.keptCount;
    return [...this.kept].filter(([, c]) => c >= min).sort((a, b) => a[0] - b[0]);
  }

  get span(): number {
    return this.lo === this.lo ? this.hi - this.lo : this.max - this.min;
  }

  /** Largest |value| (of the robust bounds once settled): the scale the measurement tolerance is relative to. */
  get magnitude(): number {
    return this.lo === this.lo ? Math.max(Math.abs(this.lo), Math.abs(this.hi)) : Math.max(Math.abs(this.min), Math.abs(this.max));
  }
}

export type TagKind = 'constant' | 'discrete' | 'continuous' | 'counter' | 'text' | 'sparse';

/** How learning treats a tag: each kind gets its own rules. */
export function tagKind(s: TagStats, o: LearnOptions): TagKind {
  if (s.strings.size > 0 && s.distinct.size === 0) return s.count < o.min_cycles ? 'sparse' : 'text';
  if (s.count < o.min_cycles) return 'sparse';
  if (!s.manyValues && s.distinct.size === 1) return 'constant';
  if (s.allInteger && !s.manyValues && s.common(o).length <= o.max_discrete) return 'discrete';
  // A counter only goes up (and wraps or restarts now and then): its level says nothing.
  if (s.allInteger && s.ups >= 3 && s.ups >= 9 * s.downs) return 'counter';
  return 'continuous';
}

/** Snapshots of a device's values at the end of each poll cycle (NaN: no good value). */
export class CycleTable {
  readonly rows: Float64Array[] = [];
  readonly ts: number[] = [];
  /** cycles not stored because the table was full */
  dropped = 0;

  constructor(
    readonly names: readonly string[],
    private readonly maxRows: number,
  ) {}

  add(values: Float64Array, ts: number): void {
    if (this.rows.length >= this.maxRows) {
      this.dropped++;
      return;
    }
    this.rows.push(Float64Array.from(values));
    this.ts.push(ts);
  }

  column(j: number): Float64Array {
    return Float64Array.from(this.rows, (r) => r[j]);
  }

  /** A column with the cycles marked in `skip` as NaN (not known). */
  columnWithout(j: number, skip: Uint8Array): Float64Array {
    return Float64Array.from(this.rows, (r, i) => (skip[i] ? NaN : r[j]));
  }

  /** The cycles not marked in `skip`, sharing their rows with this table. */
  without(skip: Uint8Array): CycleTable {
    const t = new CycleTable(this.names, this.maxRows);
    this.rows.forEach((r, i) => {
      if (skip[i]) return;
      t.rows.push(r);
      t.ts.push(this.ts[i]);
    });
    return t;
  }

  /** Median time between two stored cycles (ms). */
  medianInterval(): number {
    const d: number[] = [];
    for (let i = 1; i < this.ts.length; i++) if (this.ts[i] > this.ts[i - 1]) d.push(this.ts[i] - this.ts[i - 1]);
    if (d.length === 0) return NaN;
    d.sort((a, b) => a - b);
    return d[d.length >> 1];
  }
}

/** Longest time a column stayed within a band of width tol (NaN cycles are skipped). */
export function longestStill(col: Float64Array, ts: readonly number[], tol: number): number {
  let lo = NaN, hi = NaN, since = NaN, best = 0;
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (v !== v) continue;
    if (since !== since) {
      lo = hi = v;
      since = ts[i];
      continue;
    }
    const nlo = v < lo ? v : lo;
    const nhi = v > hi ? v : hi;
    if (nhi - nlo > tol) {
      lo = hi = v;
      since = ts[i];
      continue;
    }
    lo = nlo;
    hi = nhi;
    if (ts[i] - since > best) best = ts[i] - since;
  }
  return best;
}

/** How differently the two halves of a column reached its extremes (0 when one half holds both); values outside [min, max] are ignored. */
export function halfExtremes(col: Float64Array, min = -Infinity, max = Infinity): { lowGrowth: number; highGrowth: number } {
  const half = col.length >> 1;
  const ext = (from: number, to: number) => {
    let lo = Infinity, hi = -Infinity;
    for (let i = from; i < to; i++) {
      const v = col[i];
      if (!(v >= min && v <= max)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return [lo, hi];
  };
  const [loA, hiA] = ext(0, half);
  const [loB, hiB] = ext(half, col.length);
  if (!Number.isFinite(loA + hiA + loB + hiB)) return { lowGrowth: 0, highGrowth: 0 };
  return { lowGrowth: Math.abs(loA - loB), highGrowth: Math.abs(hiA - hiB) };
}

/** Most value changes of a column within any window of windowMs. */
export function maxChangesInWindow(col: Float64Array, ts: readonly number[], windowMs: number): number {
  const changes: number[] = [];
  let prev = NaN;
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (v !== v) continue;
    if (prev === prev && v !== prev) changes.push(ts[i]);
    prev = v;
  }
  let best = 0;
  for (let a = 0, b = 0; b < changes.length; b++) {
    while (changes[b] - changes[a] >= windowMs) a++;
    if (b - a + 1 > best) best = b - a + 1;
  }
  return best;
}

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

/**
 * The part of a distribution normal operation occupies, robust to a learning window that holds
 * attacks or faults: every value seen in at least rare_share of the samples is in (a state the
 * process keeps), so are the central share between the `core` quantiles, and the envelope grows
 * outward from there value by value while the gap to the next distinct value stays within
 * gap_factor times the typical gap (the mean of the last few gaps, or of the gaps inside the
 * central share) or within min_gap (the tag's resolution) or the central share's width. A value beyond a larger gap (an isolated
 * reading, an absurd one) and all values past it are left out, and counted.
 */
export function robustEnvelope(col: ArrayLike<number>, o: { core: number; gap_factor: number; min_gap: number; rare_share?: number }): { lo: number; hi: number; below: number; above: number; n: number } {
  const v = Float64Array.from(col).filter((x) => x === x).sort();
  const n = v.length;
  if (n === 0) return { lo: NaN, hi: NaN, below: 0, above: 0, n };
  let a = Math.min(n - 1, Math.max(0, Math.floor(o.core * (n - 1))));
  let b = Math.max(a, Math.min(n - 1, Math.ceil((1 - o.core) * (n - 1))));
  // frequent values widen the core
  const frequent = Math.max(1, (o.rare_share ?? 1) * n);
  for (let i = 0, j = 0; i < n; i = j) {
    while (j < n && v[j] === v[i]) j++;
    if (j - i >= frequent) {
      a = Math.min(a, i);
      b = Math.max(b, j - 1);
    }
  }
  while (a > 0 && v[a - 1] === v[a]) a--;
  while (b < n - 1 && v[b + 1] === v[b]) b++;
  let distinct = 0;
  for (let i = a + 1; i <= b; i++) if (v[i] !== v[i - 1]) distinct++;
  // a core of one value gives no scale to judge a gap by: nothing is left out
  if (distinct === 0) return { lo: v[0], hi: v[n - 1], below: 0, above: 0, n };
  const coreWidth = v[b] - v[a];
  const coreGap = coreWidth / distinct;
  const LAST = 8;
  const grow = (dir: 1 | -1): number => {
    const gaps: number[] = [];
    let edge = dir === 1 ? b : a;
    for (;;) {
      const next = edge + dir;
      if (next < 0 || next >= n) return edge;
      const gap = Math.abs(v[next] - v[edge]);
      const local = gaps.length ? gaps.reduce((x, y) => x + y, 0) / gaps.length : 0;
      // a gap also has to be large against the core itself: a rare but real excursion stays in
      if (gap > Math.max(o.gap_factor * Math.max(local, coreGap), o.min_gap, coreWidth)) return edge;
      gaps.push(gap);
      if (gaps.length > LAST) gaps.shift();
      edge = next;
      while (edge + dir >= 0 && edge + dir < n && v[edge + dir] === v[next]) edge += dir;
    }
  };
  const hiIdx = grow(1);
  const loIdx = grow(-1);
  return { lo: v[loIdx], hi: v[hiIdx], below: loIdx, above: n - 1 - hiIdx, n };
}

/** Options of robustEnvelope from the learning options, with a tag's resolution as the smallest gap. */
export function envelopeOptions(o: LearnOptions, minGap: number): { core: number; gap_factor: number; min_gap: number; rare_share: number } {
  return { core: o.core_share, gap_factor: o.gap_factor, min_gap: minGap, rare_share: o.rare_share };
}
