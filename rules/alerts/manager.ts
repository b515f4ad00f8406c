// Alert lifecycle over findings: raise once, clear when the condition is gone, no repeats while
// active, flap suppression, per-rule rate limit (delayed and counted, never dropped), per-device
// risk score and site level. Pure: its clock is the findings' timestamps unless one is injected.
import type { Finding } from '../types.js';
import { severityRank, type Severity, type SignalDraft, type SignalState } from '../signal.js';
import { TokenBucket } from './bucket.js';
import { alertsConfigSchema, type AlertsConfig, type AlertsConfigInput } from './config.js';
import { levelOf, RiskScorer, siteLevel, SITE_LEVELS, type SiteLevel } from './score.js';

interface Alert {
  key: string;
  rule: string;
  device: string;
  severity: Severity;
  /** the condition holds, as of the latest finding */
  active: boolean;
  /** a raised signal went out and no cleared signal yet (includes flapping alerts held raised) */
  open: boolean;
  /** the raise waits for a rate-limit token while the condition holds */
  pending: boolean;
  /** times of raises within the flap window */
  raises: number[];
  /** re-raises absorbed while held for flapping */
  flaps: number;
  /** a flapping alert whose condition is gone: held since (NaN otherwise) */
  heldSince: number;
  clearedAt: number;
  openedAt: number;
  /** identical active findings ignored while active */
  repeats: number;
  /** the finding that raised it, and the latest one */
  first: Finding;
  last: Finding;
}

/** An open alert as kept across restarts (agent/alerts/persist.ts writes these). */
export interface PersistedAlert {
  severity: Severity;
  openedAt: number;
  first: Finding;
  last: Finding;
  /** id of the raised signal (written by the agent beside the alert; not used here) */
  signal?: string;
}

interface RuleState {
  bucket: TokenBucket;
  /** raises not emitted at their time since the rule's last signal */
  rateLimited: number;
}

export interface AlertStats {
  raised: number;
  cleared: number;
  repeats_ignored: number;
  rate_limited: number;
  flaps_absorbed: number;
  active: number;
}

export interface DeviceRisk {
  score: number;
  level: SiteLevel;
  active_alerts: number;
  max_severity: Severity | null;
}

/** For the retained `assets` topic. */
export interface RiskSnapshot {
  ts: string;
  devices: Record<string, DeviceRisk>;
  site_level: SiteLevel;
  site_score: number;
}

export interface AlertManagerOptions {
  /** epoch ms; default: the latest finding (or tick) timestamp */
  clock?: () => number;
  /** devices listed in snapshots even without alerts */
  devices?: readonly string[];
}

const NO_DRAFTS: readonly SignalDraft[] = Object.freeze([]);

export function alertKey(f: Pick<Finding, 'rule' | 'device' | 'tag' | 'condition'>): string {
  return `${f.rule}\u0000${f.device}\u0000${f.tag ?? ''}\u0000${f.condition ?? ''}`;
}

export class AlertManager {
  readonly config: AlertsConfig;
  private readonly clock: (() => number) | undefined;
  private latest = -Infinity;
  private readonly alerts = new Map<string, Alert>();
  private readonly byDevice = new Map<string, Set<Alert>>();
  private readonly rules = new Map<string, RuleState>();
  private readonly held = new Set<Alert>();
  private readonly pending = new Set<Alert>();
  /** alerts restored after a restart (or kept over a rule change) that no finding has confirmed yet, with their deadline */
  private readonly restored = new Map<Alert, { deadline: number; reload: boolean }>();
  private readonly scorer: RiskScorer;
  private readonly counts: Omit<AlertStats, 'active'> = { raised: 0, cleared: 0, repeats_ignored: 0, rate_limited: 0, flaps_absorbed: 0 };

  constructor(config: AlertsConfigInput = {}, opts: AlertManagerOptions = {}) {
    this.config = alertsConfigSchema.parse(config);
    this.clock = opts.clock;
    this.scorer = new RiskScorer(this.config.score);
    for (const d of opts.devices ?? []) this.byDevice.set(d, new Set());
  }

  onFindings(fs: readonly Finding[]): SignalDraft[] {
    const out: SignalDraft[] = [];
    for (const f of fs) out.push(...this.onFinding(f));
    return out;
  }

  /** One finding in, zero or more signal drafts out (usually zero or one). */
  onFinding(f: Finding): SignalDraft[] {
    const now = this.advance(f.ts);
    const out: SignalDraft[] = [];
    this.release(now, out);
    const key = alertKey(f);
    let a = this.alerts.get(key);
    if (f.active) {
      if (a === undefined) a = this.create(key, f);
      if (a.active) {
        this.restored.delete(a); // a restored alert is confirmed by its rule
        a.repeats++;
        this.counts.repeats_ignored++;
        return out;
      }
      a.active = true;
      a.last = f;
      a.clearedAt = NaN;
      this.noteRaise(a, now);
      if (a.open) {
        // Held raised for flapping: absorb the re-raise, count it.
        a.flaps++;
        this.counts.flaps_absorbed++;
        a.heldSince = NaN;
        this.held.delete(a);
        return out;
      }
      a.first = f;
      a.repeats = 0;
      if (this.ruleState(f.rule).bucket.take(now)) {
        this.open(a, now, out, undefined);
      } else {
        a.pending = true;
        this.pending.add(a);
        this.ruleState(f.rule).rateLimited++;
        this.counts.rate_limited++;
      }
      return out;
    }
    if (a === undefined || !a.active) return out; // nothing raised: nothing to clear
    this.restored.delete(a);
    a.active = false;
    a.last = f;
    a.clearedAt = now;
    if (a.pending) {
      // Came and went while rate-limited: counted in rateLimited, reported with the rule's next signal.
      a.pending = false;
      this.pending.delete(a);
      return out;
    }
    if (!a.open) return out;
    this.pruneRaises(a, now);
    if (a.raises.length >= this.config.flap.threshold || a.flaps > 0) {
      a.heldSince = now;
      this.held.add(a);
      return out;
    }
    this.close(a, now, out, undefined);
    return out;
  }

  /** Open alerts, for keeping them across a restart. */
  openAlerts(): PersistedAlert[] {
    const out: PersistedAlert[] = [];
    for (const a of this.alerts.values()) if (a.open) out.push({ severity: a.severity, openedAt: a.openedAt, first: a.first, last: a.last });
    return out;
  }

  /**
   * Take back the alerts that were open when the agent stopped, so a condition that still holds is
   * not raised a second time. Each must be confirmed by a finding of its rule within
   * restore_grace_ms of `now`; otherwise it is cleared then, saying why.
   */
  restore(list: readonly PersistedAlert[], now: number): void {
    for (const p of list) {
      const key = alertKey(p.first);
      if (this.alerts.has(key)) continue;
      const a = this.create(key, p.first);
      a.severity = p.severity;
      a.active = true;
      a.open = true;
      a.openedAt = p.openedAt;
      a.last = p.last;
      this.restored.set(a, { deadline: now + this.config.restore_grace_ms, reload: false });
    }
  }

  /** Open alerts with what identifies them (for `otsentry alerts` and approvals). */
  openList(): Array<PersistedAlert & { key: string }> {
    const out: Array<PersistedAlert & { key: string }> = [];
    for (const a of this.alerts.values()) if (a.open) out.push({ key: a.key, severity: a.severity, openedAt: a.openedAt, first: a.first, last: a.last });
    return out;
  }

  /**
   * Clear the open alerts that match now, without waiting for their rule (an approval changed
   * the rule so the condition is accepted, or the rule is gone). `extra` goes into the evidence.
   */
  clearWhere(match: (f: Finding) => boolean, now: number, extra: Record<string, unknown>): SignalDraft[] {
    const out: SignalDraft[] = [];
    const t = this.advance(now);
    for (const a of this.alerts.values()) {
      if (!match(a.first)) continue;
      this.restored.delete(a);
      this.held.delete(a);
      if (a.pending) {
        a.pending = false;
        this.pending.delete(a);
      }
      a.active = false;
      if (!a.open) continue;
      a.last = { ...a.last, active: false, ts: t };
      this.close(a, t, out, extra);
    }
    return out;
  }

  /**
   * The rules of these alerts changed (live reload): keep them raised, but their new detector must
   * confirm them within restore_grace_ms, else they are cleared then, saying why.
   */
  expectConfirmation(match: (f: Finding) => boolean, now: number): void {
    for (const a of this.alerts.values()) {
      if (a.open && a.active && match(a.first) && !this.restored.has(a)) this.restored.set(a, { deadline: now + this.config.restore_grace_ms, reload: true });
    }
  }

  /** Advance time: release flapping alerts whose hold is over and rate-limited raises. */
  tick(ts?: number): readonly SignalDraft[] {
    const now = this.advance(ts);
    // Called every cycle: nothing waits in the common case, and nothing is allocated then.
    if (this.restored.size === 0 && this.held.size === 0 && this.pending.size === 0) return NO_DRAFTS;
    const out: SignalDraft[] = [];
    this.release(now, out);
    return out;
  }

  /** Risk score 0-100 of a device at time at (default now). */
  score(device: string, at?: number): number {
    const set = this.byDevice.get(device);
    return set ? this.scorer.score(this.scored(set), at ?? this.now()) : 0;
  }

  snapshot(at?: number): RiskSnapshot {
    const now = at ?? this.now();
    const devices: Record<string, DeviceRisk> = {};
    for (const [id, set] of this.byDevice) {
      let count = 0;
      let max: Severity | null = null;
      for (const a of set) {
        if (!(a.open || a.pending)) continue;
        count++;
        if (max === null || severityRank(a.severity) > severityRank(max)) max = a.severity;
      }
      const score = this.scorer.score(this.scored(set), now);
      devices[id] = { score, level: SITE_LEVELS[levelOf(score, this.config.site.thresholds)], active_alerts: count, max_severity: max };
    }
    const scores = Object.values(devices).map((d) => d.score);
    return {
      ts: new Date(Number.isFinite(now) ? now : 0).toISOString(),
      devices,
      site_level: siteLevel(scores, this.config.site),
      site_score: scores.length ? Math.max(...scores) : 0,
    };
  }

  stats(): AlertStats {
    let active = 0;
    for (const a of this.alerts.values()) if (a.open || a.pending) active++;
    return { ...this.counts, active };
  }

  private now(): number {
    return this.clock ? this.clock() : this.latest;
  }

  private advance(ts: number | undefined): number {
    if (this.clock) return this.clock();
    if (ts !== undefined && ts > this.latest) this.latest = ts;
    return this.latest;
  }

  private create(key: string, f: Finding): Alert {
    const a: Alert = {
      key,
      rule: f.rule,
      device: f.device,
      severity: f.severity,
      active: false,
      open: false,
      pending: false,
      raises: [],
      flaps: 0,
      heldSince: NaN,
      clearedAt: NaN,
      openedAt: NaN,
      repeats: 0,
      first: f,
      last: f,
    };
    this.alerts.set(key, a);
    let set = this.byDevice.get(f.device);
    if (!set) this.byDevice.set(f.device, (set = new Set()));
    set.add(a);
    return a;
  }

  private ruleState(rule: string): RuleState {
    let r = this.rules.get(rule);
    if (!r) {
      const rl = this.config.rate_limit;
      r = { bucket: new TokenBucket(rl.burst, rl.per_minute / 60_000), rateLimited: 0 };
      this.rules.set(rule, r);
    }
    return r;
  }

  private noteRaise(a: Alert, now: number): void {
    a.raises.push(now);
    this.pruneRaises(a, now);
  }

  private pruneRaises(a: Alert, now: number): void {
    const from = now - this.config.flap.window_ms;
    let i = 0;
    while (i < a.raises.length && a.raises[i] < from) i++;
    if (i > 0) a.raises.splice(0, i);
  }

  private release(now: number, out: SignalDraft[]): void {
    if (this.restored.size > 0) {
      for (const [a, { deadline, reload }] of [...this.restored]) {
        if (now < deadline) continue;
        this.restored.delete(a);
        a.active = false;
        a.last = { ...a.last, active: false, ts: now, message: `${a.first.message} (no longer seen after ${reload ? 'its rule changed' : 'the agent restarted'})` };
        this.close(a, now, out, { reason: reload ? 'not_confirmed_after_rule_change' : 'not_confirmed_after_restart' });
      }
    }
    if (this.held.size > 0) {
      for (const a of [...this.held]) {
        if (now - a.heldSince < this.config.flap.hold_ms) continue;
        this.held.delete(a);
        this.close(a, now, out, { flapping: true, flaps: a.flaps });
      }
    }
    if (this.pending.size > 0) {
      for (const a of [...this.pending]) {
        if (!this.ruleState(a.rule).bucket.take(now)) continue;
        this.pending.delete(a);
        a.pending = false;
        this.open(a, now, out, { delayed_ms: Math.max(0, now - a.first.ts) });
      }
    }
  }

  private open(a: Alert, now: number, out: SignalDraft[], extra: Record<string, unknown> | undefined): void {
    a.open = true;
    a.openedAt = a.first.ts;
    this.counts.raised++;
    out.push(this.draft(a, a.first, 'raised', now, extra));
  }

  private close(a: Alert, now: number, out: SignalDraft[], extra: Record<string, unknown> | undefined): void {
    a.open = false;
    a.clearedAt = now;
    if (a.heldSince === a.heldSince) {
      // End of a flapping episode: start counting afresh.
      a.heldSince = NaN;
      a.flaps = 0;
      a.raises.length = 0;
    }
    this.counts.cleared++;
    const info: Record<string, unknown> = { active_ms: Math.max(0, a.last.ts - a.openedAt), ...extra };
    if (a.repeats > 0) info.repeats = a.repeats;
    out.push(this.draft(a, a.last, 'cleared', now, info));
  }

  private draft(a: Alert, f: Finding, state: SignalState, now: number, extra: Record<string, unknown> | undefined): SignalDraft {
    const r = this.ruleState(a.rule);
    const evidence: Record<string, unknown> = { ...f.evidence };
    if (f.condition !== undefined) evidence.condition = f.condition;
    // The rule's response hint travels with a raise: what the operator should do first.
    if (state === 'raised' && f.response) evidence.response = f.response;
    if (extra) Object.assign(evidence, extra);
    if (r.rateLimited > 0) {
      evidence.rate_limited = r.rateLimited;
      r.rateLimited = 0;
    }
    const d: SignalDraft = {
      ts: new Date(f.ts).toISOString(),
      device: f.device,
      rule: f.rule,
      category: f.category,
      severity: a.severity,
      state,
      score: this.score(a.device, now),
      message: f.message,
    };
    if (f.tag !== undefined) d.tag = f.tag;
    if (f.observed !== undefined) d.observed = f.observed;
    if (f.expected !== undefined) d.expected = f.expected;
    if (Object.keys(evidence).length > 0) d.evidence = evidence;
    return d;
  }

  private *scored(set: Iterable<Alert>) {
    for (const a of set) yield { severity: a.severity, active: a.active || a.open || a.pending, clearedAt: a.clearedAt };
  }
}
