// Types shared by the rule engine and its detectors: Finding, Detector, ResolvedRule, DeviceRef.
import type { Category, Severity } from './signal.js';
import type { Fact, FactKind, Sample } from '../protocols/types.js';

/**
 * A condition report. Detectors emit one only when a condition starts (active: true) or ends
 * (active: false); the alert stage (rules/alerts) turns findings into raised/cleared signals.
 * One alert exists per (rule, device, tag, condition).
 */
export interface Finding {
  rule: string;
  device: string;
  tag?: string;
  /** Sub-condition of a rule that watches several (availability: unreachable | slow_response, ...). */
  condition?: string;
  category: Category;
  severity: Severity;
  /** true: the condition holds from ts on; false: it is gone */
  active: boolean;
  /** epoch ms of the sample/fact that showed the change (the data's own clock) */
  ts: number;
  message: string;
  response: string;
  observed?: unknown;
  expected?: unknown;
  evidence?: Record<string, unknown>;
}

/** A device as the rules see it: its id and tag names (works for any protocol). */
export interface DeviceRef {
  id: string;
  tags: ReadonlyArray<{ name: string }>;
}

/** A config problem, printed as `path: message`. */
export interface RuleIssue {
  path: string;
  message: string;
}

/** A rule after validation: defaults applied, tags resolved, detector params parsed. */
export interface ResolvedRule<P = unknown> {
  /** position in the rules list (for messages) */
  index: number;
  id: string;
  type: string;
  device: string;
  /** tags the detector watches, in the order of its per-tag state */
  tags: string[];
  category: Category;
  severity: Severity;
  /** user templates; undefined means the type's default for the condition */
  message?: string;
  clear_message?: string;
  response?: string;
  enabled: boolean;
  /** not approved yet (why): every finding is emitted at severity info, with evidence.review */
  review?: string;
  params: P;
}

/** Where a detector puts findings; the engine allocates nothing unless push() is called. */
export interface FindingSink {
  push(f: Finding): void;
}

/** Latest numeric value of every tag of one device (NaN = unknown), indexed like DeviceRef.tags. */
export interface DeviceValues {
  readonly names: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  readonly values: Float64Array;
}

/** One rule instance at run time. The engine routes only what a detector asks for. */
export interface Detector {
  readonly rule: ResolvedRule;
  /** samples of these tags go to onSample with the tag's position in this list */
  readonly tags: readonly string[];
  /** facts of these kinds (of the rule's device) go to onFact */
  readonly factKinds: readonly FactKind[];
  /** true: onCycle runs at the end of every poll cycle of the device */
  readonly cycle: boolean;
  /** true: onTime runs on RuleEngine.evaluateTime */
  readonly timed: boolean;
  /** v is the sample as a number (boolean 1/0), NaN for null, strings or non-good quality */
  onSample?(s: Sample, v: number, slot: number, out: FindingSink): void;
  /**
   * A whole cycle's samples of this detector's tags in one call, with the same effect as onSample
   * for each of them in order (see SampleBatch). Optional: without it (or when a detector reads
   * other tags' values mid-cycle, as stuck's `when` does) the engine calls onSample per sample.
   */
  onSamples?(b: SampleBatch, out: FindingSink): void;
  onFact?(f: Fact, out: FindingSink): void;
  onCycle?(ts: number, out: FindingSink): void;
  onTime?(ts: number, out: FindingSink): void;
}

/**
 * One cycle's samples as the engine hands them to a detector's onSamples: the detector's own
 * samples are samples[at[j]], valued values[at[j]], at its slot slots[j], for j < at.length.
 * The detector's loop sets `j` to the entry it judges (the engine reads it when the detector
 * throws or pushes a finding). Each detector class has its own copy of that loop on purpose: one
 * loop shared by all would make its onSample call megamorphic again, which is what this avoids.
 */
export interface SampleBatch {
  samples: readonly Sample[];
  /** every sample as a number (numericValue), by its position in samples */
  values: Float64Array;
  at: Int32Array;
  slots: Int32Array;
  j: number;
}

/** What a detector factory gets besides its rule. */
export interface DetectorContext {
  device: DeviceValues;
}
