// What learning keeps per tag while it streams (every sample counts) and per device per poll cycle
// (a bounded table of value snapshots, from which relations between tags are mined afterwards).
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

  get span(): number {
    return this.max - this.min;
  }

  /** Largest |value|: the scale the measurement tolerance is relative to. */
  get magnitude(): number {
    return Math.max(Math.abs(this.min), Math.abs(this.max));
  }
}

export type TagKind = 'constant' | 'discrete' | 'continuous' | 'counter' | 'text' | 'sparse';

/** How learning treats a tag: each kind gets its own rules. */
export function tagKind(s: TagStats, o: LearnOptions): TagKind {
  if (s.strings.size > 0 && s.distinct.size === 0) return s.count < o.min_cycles ? 'sparse' : 'text';
  if (s.count < o.min_cycles) return 'sparse';
  if (!s.manyValues && s.distinct.size === 1) return 'constant';
  if (s.allInteger && !s.manyValues && s.distinct.size <= o.max_discrete) return 'discrete';
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

/** How differently the two halves of a column reached its extremes (0 when one half holds both). */
export function halfExtremes(col: Float64Array): { lowGrowth: number; highGrowth: number } {
  const half = col.length >> 1;
  const ext = (from: number, to: number) => {
    let lo = Infinity, hi = -Infinity;
    for (let i = from; i < to; i++) {
      const v = col[i];
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
