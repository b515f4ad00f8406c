// The risk signal: the JSON event this agent publishes (schema in DESIGN.md and the README).
// v2 adds the Ed25519 signature (`sig`, over `hash`) and `key_id`; v1 signals are unsigned.

export const SIGNAL_SCHEMA_VERSION = 2;

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const CATEGORIES = ['availability', 'identity', 'integrity', 'whitelist', 'anomaly', 'posture'] as const;
export type Category = (typeof CATEGORIES)[number];

export type SignalState = 'raised' | 'cleared';

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** What the alert stage hands to the outbox; the outbox adds identity, order and the hash chain. */
export interface SignalDraft {
  /** ISO 8601 time of the observation (sample time, not wall clock of publishing) */
  ts: string;
  device: string;
  tag?: string;
  rule: string;
  category: Category;
  severity: Severity;
  state: SignalState;
  /** device risk score 0-100 after this event */
  score: number;
  message: string;
  observed?: unknown;
  expected?: unknown;
  evidence?: Record<string, unknown>;
}

export interface RiskSignal extends SignalDraft {
  v: number;
  id: string;
  seq: number;
  agent: string;
  site: string;
  prev_hash: string;
  hash: string;
  /** v2: fingerprint of the agent's public key (covered by `hash`) */
  key_id?: string;
  /** v2: base64 Ed25519 signature over the ASCII bytes of `hash` (not covered by `hash`) */
  sig?: string;
}
