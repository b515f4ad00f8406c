// What approving an alert changes in its rule, per detector type: what "observed" means for each
// detector decides the change. Widen a range to the observed value, allow an observed value,
// accept an observed integrity value or device identity as the new baseline, accept an invariant
// state, raise a tolerance to what was seen. Conditions without a baseline to change (a frozen
// value, an unreachable device, an off-grid value) can only be accepted for a while: the rule
// stops watching that tag or check until the approval expires.
import { detectorType, ruleSchemaFor } from '../../rules/index.js';
import { acceptState, outward } from './expr.js';
import type { ChangeOp } from './patch.js';
import { OperationalError } from '../../protocols/errors.js';

/** The alert being approved, as listed by `otsentry alerts`. */
export interface AlertRef {
  rule: string;
  device: string;
  tag?: string;
  condition?: string;
  observed?: unknown;
  expected?: unknown;
  evidence?: Record<string, unknown>;
  /** id of the raised signal */
  signal?: string;
  /** ISO time the alert was raised */
  since?: string;
}

export interface Proposal {
  changes: ChangeOp[];
  /** true when the change only silences the condition (needs an expiry) */
  silences: boolean;
}

/** A request that cannot be approved; the message says why and what to do. */
export class ApproveError extends OperationalError {
  constructor(message: string) {
    super('approve', message, 'approve');
  }
}

type Obj = Record<string, unknown>;

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : typeof x === 'boolean' ? (x ? 1 : 0) : undefined);

/** The rule with its detector's defaults filled in (to know e.g. the checks a posture rule runs). */
function withDefaults(rule: Obj): Obj {
  const dt = typeof rule.type === 'string' ? detectorType(rule.type) : undefined;
  if (!dt) throw new ApproveError(`rule '${String(rule.id)}' has an unknown type '${String(rule.type)}'`);
  const parsed = ruleSchemaFor(dt).safeParse(rule);
  if (!parsed.success) throw new ApproveError(`rule '${String(rule.id)}' is not valid as it stands (run otsentry validate)`);
  return parsed.data as Obj;
}

/** Stop watching the alert's tag (or the whole rule when it has no other tag). */
function silence(rule: Obj, a: AlertRef): ChangeOp[] {
  if (a.tag !== undefined && Array.isArray(rule.tags) && rule.tags.length > 1) return [{ op: 'remove', path: ['tags'], value: a.tag }];
  return [{ op: 'set', path: ['enabled'], value: false }];
}

function observedNumber(a: AlertRef, what: string): number {
  const v = num(a.observed);
  if (v === undefined) throw new ApproveError(`the alert of rule '${a.rule}' has no numeric observed value to ${what}`);
  return v;
}

/** Changes for one alert of a rule. */
function forAlert(rule: Obj, p: Obj, a: AlertRef): Proposal {
  const ev = a.evidence ?? {};
  const widen = (field: string, v: number | undefined, dir: 1 | -1): ChangeOp[] =>
    v === undefined ? [] : [{ op: dir > 0 ? 'at_least' : 'at_most', path: [field], value: Number.isInteger(v) ? v : outward(v, dir), default: num(p[field]) }];
  switch (p.type) {
    case 'range': {
      const v = observedNumber(a, 'widen the range to');
      if (p.max !== undefined && v > (p.max as number)) return { changes: [{ op: 'at_least', path: ['max'], value: outward(v, 1) }], silences: false };
      if (p.min !== undefined && v < (p.min as number)) return { changes: [{ op: 'at_most', path: ['min'], value: outward(v, -1) }], silences: false };
      throw new ApproveError(`${a.tag} = ${v} is within [${String(p.min ?? '-inf')}, ${String(p.max ?? '+inf')}] of rule '${a.rule}' already; nothing to widen`);
    }
    case 'allowed_values':
      if (a.observed === undefined || a.observed === null) throw new ApproveError(`the alert of rule '${a.rule}' has no observed value to allow`);
      return { changes: [{ op: 'add', path: ['values'], value: a.observed }], silences: false };
    case 'integrity':
      if (a.tag === undefined || a.observed === undefined || a.observed === null) throw new ApproveError(`the alert of rule '${a.rule}' names no tag and value to accept`);
      return { changes: [{ op: 'set', path: ['baseline', a.tag], value: a.observed }], silences: false };
    case 'identity': {
      const seen = Object.fromEntries(Object.entries((a.observed ?? {}) as Obj).filter(([, v]) => v !== null && v !== undefined));
      if (Object.keys(seen).length === 0) throw new ApproveError(`the alert of rule '${a.rule}' carries no identity to accept`);
      return { changes: [{ op: 'set', path: ['expected'], value: seen }], silences: false };
    }
    case 'rate': {
      const changes: ChangeOp[] = [];
      const rate = num(ev.rate_per_s);
      if (rate !== undefined && p.max_per_s !== undefined && rate > (p.max_per_s as number)) changes.push(...widen('max_per_s', rate, 1));
      const n = num(ev.changes_in_window);
      if (n !== undefined && p.max_changes !== undefined && n > (p.max_changes as number)) changes.push(...widen('max_changes', n, 1));
      if (changes.length === 0) throw new ApproveError(`the alert of rule '${a.rule}' shows no rate or change count above the rule's limits`);
      return { changes, silences: false };
    }
    case 'expression': {
      const r = acceptState(String(p.expr), (a.observed ?? {}) as Obj);
      return { changes: [{ op: 'set', path: ['expr'], value: r.expr }], silences: false };
    }
    case 'exceptions': {
      const field = a.condition === 'bad_response' ? 'max_bad_responses_per_poll' : 'max_exceptions_per_poll';
      return { changes: widen(field, observedNumber(a, 'tolerate'), 1), silences: false };
    }
    case 'diagnostics': {
      const over = (num(a.observed) ?? 0) - (num((a.expected as Obj | undefined)?.max) ?? 0);
      if (a.condition === 'foreign_master' && over > 0) return { changes: widen('tolerance', (p.tolerance as number) + over, 1), silences: false };
      if (a.condition === 'foreign_exceptions' && over > 0) return { changes: widen('max_foreign_exceptions', (p.max_foreign_exceptions as number) + over, 1), silences: false };
      if (a.condition === 'comm_errors') return { changes: widen('max_comm_errors', observedNumber(a, 'tolerate'), 1), silences: false };
      return { changes: [{ op: 'set', path: ['report_resets'], value: false }], silences: true };
    }
    case 'residual': {
      const drift = num(ev.drift);
      if (drift === undefined) throw new ApproveError(`the alert of rule '${a.rule}' carries no drift to accept`);
      return { changes: widen('h', drift, 1), silences: false };
    }
    case 'posture': {
      if (a.condition === 'certificate_changed' && typeof a.observed === 'string') return { changes: [{ op: 'set', path: ['expected_thumbprint'], value: a.observed }], silences: false };
      if (a.condition === 'clock_drift') return { changes: widen('max_clock_drift_ms', Math.ceil(Math.abs(observedNumber(a, 'tolerate'))) + 1, 1), silences: false };
      if (a.condition === undefined) throw new ApproveError(`the alert of rule '${a.rule}' names no posture check`);
      return { changes: [{ op: 'remove', path: ['checks'], value: a.condition, default: p.checks as unknown[] }], silences: true };
    }
    default:
      // stuck, grid, availability: nothing observed that could become the baseline
      return { changes: silence(rule, a), silences: true };
  }
}

/**
 * The changes that approve the given alerts of one rule (all of the same rule), plus taking the
 * rule out of review. `rule` is the rule as the agent runs it (earlier approvals applied).
 */
export function proposeChanges(rule: Obj, alerts: readonly AlertRef[]): Proposal {
  const p = withDefaults(rule);
  const changes: ChangeOp[] = [];
  let silences = false;
  for (const a of alerts) {
    const r = forAlert(rule, p, a);
    changes.push(...r.changes);
    silences ||= r.silences;
  }
  if (rule.review !== undefined) changes.push({ op: 'unset', path: ['review'] });
  if (changes.length === 0) throw new ApproveError(`rule '${String(rule.id)}' has no open alert and is not in review; nothing to approve (otsentry alerts lists the open ones)`);
  return { changes, silences };
}
