// Rule failures as data: a detector that threw is suspended for its device and retried after a
// backoff (data time). The engine reports each change as a RuleFailure; the caller turns it into
// the built-in `otsentry.rule_failed` finding (ruleFailureFinding), a metric and a log line.
import type { Finding } from './types.js';

/** Built-in rule of a detector that threw: raised when suspended, cleared once it judges again. */
export const RULE_FAILED = 'otsentry.rule_failed';
/** First suspension; each further failure doubles it, up to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 60_000;
export const RETRY_MAX_MS = 3_600_000;
/** Error messages are cut to this length: a detector's error must not grow a signal without bound. */
const MAX_ERROR_CHARS = 300;

/**
 * - suspended: the detector threw; it gets no samples or facts until `retry_at`.
 * - resumed: the backoff has passed; the detector judges again, with the state it had (on
 *   probation for as long as it was suspended).
 * - restored: it judged through its probation without throwing; the failure count is reset.
 */
export interface RuleFailure {
  state: 'suspended' | 'resumed' | 'restored';
  rule: string;
  type: string;
  device: string;
  /** data time of the sample, fact or cycle that showed the change */
  ts: number;
  /** failures in a row (each one doubles the suspension) */
  failures: number;
  /** suspended: what the detector threw, cut to 300 characters */
  error?: string;
  /** suspended: which call threw */
  during?: 'sample' | 'fact' | 'cycle' | 'time';
  /** suspended: data time at which the rule is retried */
  retry_at?: number;
}

/** Message of anything thrown, safe for values whose toString itself throws. */
export function errorText(e: unknown): string {
  let s: string;
  try {
    s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } catch {
    s = 'a value that cannot be printed';
  }
  return s.length > MAX_ERROR_CHARS ? `${s.slice(0, MAX_ERROR_CHARS - 3)}...` : s;
}

/** Suspension length after `failures` failures in a row. */
export function retryDelay(failures: number): number {
  return Math.min(RETRY_MIN_MS * 2 ** Math.max(0, failures - 1), RETRY_MAX_MS);
}

/**
 * The built-in finding of a failure change: active when suspended, inactive when restored, none
 * for `resumed` (the rule is not trusted again until it has judged through its probation).
 * Category availability: what is lost is the monitoring of the device by that rule (a blind
 * spot), not evidence about the device's data. Severity high: an attacker who can make a
 * detector throw blinds it, and nothing else reports what that rule would have seen.
 */
export function ruleFailureFinding(f: RuleFailure): Finding | undefined {
  if (f.state === 'resumed') return undefined;
  const active = f.state === 'suspended';
  const finding: Finding = {
    rule: RULE_FAILED,
    device: f.device,
    condition: f.rule,
    category: 'availability',
    severity: 'high',
    active,
    ts: f.ts,
    message: active
      ? `rule ${f.rule} (${f.type}) failed on ${f.device} and is suspended for this device until ${new Date(f.retry_at!).toISOString()}: ${f.error}`
      : `rule ${f.rule} (${f.type}) judges ${f.device} again`,
    response: 'The device is still polled and judged by its other rules. Report the error with the rule and the agent version; until fixed, disable the rule or adjust it to avoid the input that breaks it.',
  };
  if (active) {
    finding.observed = f.error;
    finding.evidence = { failed_rule: f.rule, type: f.type, during: f.during, failures: f.failures, retry_at: new Date(f.retry_at!).toISOString() };
  }
  return finding;
}
