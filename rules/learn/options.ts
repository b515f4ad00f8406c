// Options of baseline learning, with their defaults and what each one trades off.

export interface LearnOptions {
  /** share of the observed span added on each side of a learned range or invariant bound */
  margin: number;
  /** measurement tolerance as a share of a tag's magnitude (largest |value|): rounding, resolution, drift */
  noise: number;
  /** learned largest change per second times (1 + rate_margin) */
  rate_margin: number;
  /** a value may stand still stuck_factor times as long as the longest still period seen */
  stuck_factor: number;
  /** integer tags with at most this many distinct values are discrete (allowed values, invariants) */
  max_discrete: number;
  /** tags seen in fewer cycles get no rule */
  min_cycles: number;
  /** window of the change-count limit of discrete tags, in cycles */
  change_window_cycles: number;
  /** mine invariants between tags (expression rules) */
  invariants: boolean;
  /** a mined invariant needs its premise in at least this share of the cycles */
  min_support: number;
  /** discrete tags with at most this many values (equipment states, modes) can be premises of invariants */
  max_premise_values: number;
  /** mine linear relations between tags (residual rules) */
  models: boolean;
  /** most inputs of one residual model */
  max_terms: number;
  /** CUSUM allowance of residual rules, in sigmas */
  cusum_k: number;
  /** CUSUM threshold = cusum_margin x the highest drift episode while learning (a few odd ones left out) + 1 */
  cusum_margin: number;
  /** most cycles kept per device for mining relations (values x tags are held in memory) */
  max_cells: number;
  /**
   * Robustness to a learning window that holds attacks or faults (no labels are used): the share
   * of samples on each side of a tag's distribution that is not trusted by itself; values beyond
   * it count as normal only where they continue the distribution without a gap (gap_factor)
   */
  core_share: number;
  /** a gap between two distinct values larger than gap_factor times the mean of the gaps before it ends a learned envelope */
  gap_factor: number;
  /** values, states and counts seen in fewer than this share of the cycles or intervals are not learned as normal */
  rare_share: number;
  /**
   * diagnostic counter growth (exceptions to other clients, comm errors, foreign messages) seen in
   * fewer than this share of the intervals is an event worth an alarm, not normal background
   */
  event_share: number;
  /**
   * a cycle where a tag is odd (an isolated value, off its grid, a rare parameter value) marks an
   * episode of this many ms on either side that measurement bounds are learned without (0 = off)
   */
  screen_ms: number;
  /**
   * a set-point or state that left a value and came back to it within revert_ms was a transient
   * (an injected write the master overwrote, a glitch), not an operating state: it marks an odd
   * episode (0 = off)
   */
  revert_ms: number;
}

export const DEFAULT_LEARN_OPTIONS: Readonly<LearnOptions> = Object.freeze({
  margin: 0.05,
  noise: 0.005,
  rate_margin: 0.5,
  stuck_factor: 1.5,
  max_discrete: 12,
  min_cycles: 30,
  change_window_cycles: 20,
  invariants: true,
  min_support: 0.02,
  max_premise_values: 4,
  models: true,
  max_terms: 4,
  cusum_k: 1,
  cusum_margin: 1.2,
  max_cells: 10_000_000,
  core_share: 0.15,
  gap_factor: 20,
  rare_share: 0.002,
  event_share: 0.05,
  screen_ms: 60_000,
  revert_ms: 120_000,
});

export function learnOptions(o: Partial<LearnOptions> = {}): LearnOptions {
  return { ...DEFAULT_LEARN_OPTIONS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
}
