// A bounded summary of one tag's values over the learning window, for judging whether its envelope
// has converged (rules/learn/convergence.ts): consecutive samples in at most 256 buckets (count,
// sum, extremes and their times; pairs merged when full, so a day of polls costs what a minute
// does), and the time each discrete value was first seen. Cheap to update on every sample and to
// judge at any moment, live or while reading a recording.

const BUCKETS = 256;
/** Distinct values whose first appearance is remembered (more: the tag is no discrete one). */
const MAX_VALUES = 64;

export class EnvelopeTracker {
  /** good numeric samples seen */
  count = 0;
  /** buckets in use */
  used = 0;
  /** samples per bucket (doubles each time the buckets are merged) */
  private per = 1;
  readonly n = new Float64Array(BUCKETS);
  readonly sum = new Float64Array(BUCKETS);
  readonly min = new Float64Array(BUCKETS);
  readonly max = new Float64Array(BUCKETS);
  /** time of the first and last sample of each bucket */
  readonly t0 = new Float64Array(BUCKETS);
  readonly t1 = new Float64Array(BUCKETS);
  /** time the bucket's extreme was (last) reached */
  readonly tMin = new Float64Array(BUCKETS);
  readonly tMax = new Float64Array(BUCKETS);
  /** value -> time first seen, until more than MAX_VALUES distinct values came */
  readonly firstSeen = new Map<number, number>();
  manyValues = false;

  add(v: number, ts: number): void {
    this.count++;
    if (!this.manyValues && !this.firstSeen.has(v)) {
      if (this.firstSeen.size >= MAX_VALUES) {
        this.manyValues = true;
        this.firstSeen.clear();
      } else this.firstSeen.set(v, ts);
    }
    let b = this.used - 1;
    if (b < 0 || this.n[b] >= this.per) {
      if (this.used === BUCKETS) this.halve();
      b = this.used++;
      this.n[b] = 0;
      this.sum[b] = 0;
      this.min[b] = Infinity;
      this.max[b] = -Infinity;
      this.t0[b] = ts;
    }
    this.n[b]++;
    this.sum[b] += v;
    // Ties move the time on: the latest time an extreme was reached is what widening is about.
    if (v <= this.min[b]) {
      this.min[b] = v;
      this.tMin[b] = ts;
    }
    if (v >= this.max[b]) {
      this.max[b] = v;
      this.tMax[b] = ts;
    }
    this.t1[b] = ts;
  }

  /** First and last sample time (NaN when empty). */
  get first(): number {
    return this.used > 0 ? this.t0[0] : NaN;
  }

  get last(): number {
    return this.used > 0 ? this.t1[this.used - 1] : NaN;
  }

  /** Merge neighbouring buckets pairwise: half as many, twice as long. */
  private halve(): void {
    const h = this.used >> 1;
    for (let i = 0; i < h; i++) {
      const a = 2 * i, b = a + 1;
      this.n[i] = this.n[a] + this.n[b];
      this.sum[i] = this.sum[a] + this.sum[b];
      const lowB = this.min[b] <= this.min[a];
      this.min[i] = lowB ? this.min[b] : this.min[a];
      this.tMin[i] = lowB ? this.tMin[b] : this.tMin[a];
      const highB = this.max[b] >= this.max[a];
      this.max[i] = highB ? this.max[b] : this.max[a];
      this.tMax[i] = highB ? this.tMax[b] : this.tMax[a];
      this.t0[i] = this.t0[a];
      this.t1[i] = this.t1[b];
    }
    this.used = h;
    this.per *= 2;
  }
}
