// Token bucket for the per-rule rate limit, driven by the caller's clock (no timers).
export class TokenBucket {
  private tokens: number;
  private last = NaN;

  constructor(
    readonly capacity: number,
    /** tokens added per millisecond */
    readonly refillPerMs: number,
  ) {
    this.tokens = capacity;
  }

  /** Take one token at time now; false when the bucket is empty. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  available(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  private refill(now: number): void {
    if (this.last === this.last && now > this.last) this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.refillPerMs);
    if (!(now < this.last)) this.last = now; // a clock going back never mints tokens
  }
}
