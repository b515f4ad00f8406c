// Exponential reconnect backoff with jitter between reconnect_min_ms and reconnect_max_ms, and the
// retry gate that paces transient PUBACK refusals with one.

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt: min·2^n capped at max, with "equal jitter" (50-100 %). */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.max(this.minMs, Math.round(ceiling / 2 + (this.random() * ceiling) / 2));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/**
 * After a transient refusal (quota, busy): new sends pause for a backoff, then `resume` gets the
 * oldest refused seq so sending starts again from there, in seq order.
 */
export class RetryGate {
  private timer?: NodeJS.Timeout;
  private from = Infinity;

  constructor(
    private readonly backoff: Backoff,
    private readonly resume: (fromSeq: number) => void,
  ) {}

  get paused(): boolean {
    return this.timer !== undefined;
  }

  /** `seq` was refused for now; returns the delay when this starts a pause. */
  hold(seq: number): number | undefined {
    this.from = Math.min(this.from, seq);
    if (this.timer !== undefined) return undefined;
    const delay = this.backoff.next();
    this.timer = setTimeout(() => {
      const from = this.from;
      this.cancel();
      this.resume(from);
    }, delay);
    return delay;
  }

  /** A PUBACK succeeded: the next pause starts from the shortest delay again. */
  succeeded(): void {
    if (this.timer === undefined) this.backoff.reset();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.from = Infinity;
  }
}
