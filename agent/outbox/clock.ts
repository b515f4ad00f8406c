// The outbox clock: how long the agent has held its outbox, in ms. It advances only by the
// monotonic clock while the outbox is open and is persisted in meta (clock_ms) with every
// commit, so it continues across restarts and is blind to wall-clock steps.
//
// Why not the wall clock: a gateway without an RTC battery boots in 2000 (or 1970) and is later
// stepped forward by NTP; measured by wall time every event held before the step looks decades
// old and max_age_hours would expire the whole undelivered backlog. Why not "refuse expiry when
// wall and monotonic disagree": that needs a trusted reference point, and a step while the agent
// is stopped cannot be detected at all. This clock needs neither: max_age_hours counts time
// the agent has run while holding the event. Downtime does not count (an event is not aged
// while nobody could deliver it), and a crash loses at most the time since the last commit.
export class OutboxClock {
  private readonly start: number;
  private last: number;

  /** `persisted`: clock_ms from meta (0 for a new outbox); `monotonic`: ms, never steps. */
  constructor(
    private readonly persisted: number,
    private readonly monotonic: () => number,
  ) {
    this.start = monotonic();
    this.last = persisted;
  }

  now(): number {
    // Never backwards, even if an injected monotonic source misbehaves.
    this.last = Math.max(this.last, this.persisted + Math.floor(this.monotonic() - this.start));
    return this.last;
  }
}

/** Monotonic ms since process start (CLOCK_MONOTONIC: NTP steps do not move it). */
export const monotonicMs = (): number => performance.now();
