// What the judge takes in: one device's poll cycle, live from the scheduler or rebuilt from a
// recording (rules/recording/cycles.ts). The same shape in both, so replay judges what run judged.
import type { Fact, Sample } from '../../protocols/types.js';

/** A device's poll loop stopped on an unexpected error and is restarted (no samples, no facts). */
export interface LoopRestart {
  /** epoch ms of the restart */
  ts: number;
  /** restarts of this loop so far */
  restarts: number;
  error: string;
  restart_in_ms: number;
}

export interface Cycle {
  device: string;
  samples: readonly Sample[];
  /** a `link` fact, when present, is judged last: it ends the device's cycle in the engine */
  facts: readonly Fact[];
  /** poll slots this cycle overran (the built-in schedule signal); 0 when it kept its schedule */
  skipped_cycles: number;
  /** set on the report of a restarted loop: not a poll, so no rule's cycle ends with it */
  loop_restart?: LoopRestart;
  /**
   * End of the cycle in data time, where its samples and facts cannot tell (a CSV row of empty
   * cells). The judge takes the latest of this and the timestamps of the samples, facts and restart.
   */
  ts?: number;
}
