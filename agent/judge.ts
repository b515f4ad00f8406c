// The judge stage: one device's poll cycle in, risk signals out. Runs the rule engine over the
// cycle's samples and facts, passes findings through the alert lifecycle, and commits the
// resulting drafts to the outbox in one transaction per cycle.
import { ruleFailureFinding, type RuleEngine, type Finding, type RuleFailure } from '../rules/index.js';
import type { AlertManager } from '../rules/alerts/index.js';
import type { Outbox } from './outbox/index.js';
import type { RiskSignal, SignalDraft } from '../rules/signal.js';
import type { CycleOutput } from './scheduler.js';
import type { Logger } from '../protocols/log.js';

/** Built-in rule: a device whose poll schedule cannot be kept (never stretched silently). */
export const SCHEDULE_RULE = 'otsentry.poll_schedule';
/** Built-in rule: a device's poll loop stopped on an unexpected error and was restarted. */
export const LOOP_RESTART_RULE = 'otsentry.device_loop_restarted';
const RESTART_RESPONSE = 'The device is not polled until its loop runs again; its link state says restarting, not down. Report the error with the agent version and log.';
/** Drafts kept in memory while the outbox cannot commit (disk full, locked); beyond, the oldest go. */
const MAX_UNCOMMITTED = 10_000;
/** Time-based rule conditions are evaluated at most this often (data time). */
const TIME_EVAL_MS = 500;

export class Judge {
  private readonly late = new Set<string>();
  private readonly restarted = new Set<string>();
  private uncommitted: SignalDraft[] = [];
  private lostUncommitted = 0;
  private lastTimeEval = -Infinity;
  readonly counters = { cycles: 0, samples: 0, findings: 0, signals: 0, commit_failures: 0 };
  /** detector failures per device and rule (metrics) */
  readonly ruleFailures = new Map<string, { device: string; rule: string; count: number }>();

  constructor(
    private engine: RuleEngine,
    private readonly alerts: AlertManager,
    private readonly outbox: Outbox,
    private readonly onCommitted: (signals: readonly RiskSignal[]) => void,
    private readonly log: Logger,
  ) {}

  /** Live reload: the next cycle is judged by this engine (between two cycles, so none is lost). */
  setEngine(engine: RuleEngine): void {
    this.engine = engine;
  }

  get currentEngine(): RuleEngine {
    return this.engine;
  }

  /** Commit signals that no rule raised (approvals and their expiry) with the cycle's own retry. */
  emit(drafts: SignalDraft[]): void {
    if (drafts.length > 0) this.commit(drafts);
  }

  /** Samples judged and detector evaluations made (metrics, benchmark). */
  engineStats(): { samples: number; evaluations: number; rules: number; suspended: number } {
    return this.engine.stats();
  }

  onCycle(out: CycleOutput): void {
    // Hot path (every sample of every device): no closures, no allocation unless a rule fires.
    const engine = this.engine;
    let findings: Finding[] | undefined;
    let ts = 0;
    const samples = out.samples;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      const r = engine.onSample(s);
      if (r.length > 0) (findings ??= []).push(...r);
      if (s.ts > ts) ts = s.ts;
    }
    // Link facts close the cycle in the engine, so they go last.
    for (const f of out.facts) {
      if (f.kind === 'link') continue;
      const r = engine.onFact(f);
      if (r.length > 0) (findings ??= []).push(...r);
    }
    for (const f of out.facts) {
      if (f.kind === 'link') {
        const r = engine.onFact(f);
        if (r.length > 0) (findings ??= []).push(...r);
      }
      if (f.ts > ts) ts = f.ts;
    }
    if (ts - this.lastTimeEval >= TIME_EVAL_MS) {
      const r = engine.evaluateTime(ts);
      if (r.length > 0) (findings ??= []).push(...r);
      this.lastTimeEval = ts;
    }
    const failures = engine.takeFailures();
    for (let i = 0; i < failures.length; i++) {
      const f = this.ruleFailure(failures[i]);
      if (f) (findings ??= []).push(f);
    }
    if (out.loop_restart && out.loop_restart.ts > ts) ts = out.loop_restart.ts;
    const schedule = this.scheduleFinding(out, ts);
    if (schedule) (findings ??= []).push(schedule);
    const restart = this.restartFinding(out, ts);
    if (restart) (findings ??= []).push(restart);
    this.counters.cycles++;
    this.counters.samples += samples.length;
    let drafts: SignalDraft[] | undefined;
    if (findings) {
      this.counters.findings += findings.length;
      drafts = this.alerts.onFindings(findings);
    }
    const later = this.alerts.tick(ts);
    if (later.length > 0) (drafts ??= []).push(...later);
    if ((drafts && drafts.length > 0) || this.uncommitted.length > 0) this.commit(drafts ?? []);
  }

  /** A rule suspended, resumed or restored by the engine: counted, logged, and its built-in finding. */
  private ruleFailure(f: RuleFailure): Finding | undefined {
    const at = { rule: f.rule, type: f.type, failures: f.failures, device: f.device };
    if (f.state === 'suspended') {
      const key = `${f.device}\u0000${f.rule}`;
      const c = this.ruleFailures.get(key) ?? { device: f.device, rule: f.rule, count: 0 };
      c.count++;
      this.ruleFailures.set(key, c);
      // Once per suspension: the backoff (1 min doubling to 1 h) bounds how often.
      this.log.error({ ...at, err: f.error, during: f.during, retry_at: new Date(f.retry_at!).toISOString() }, 'Rule failed; suspended for this device, its other rules go on.');
    } else {
      this.log.info(at, f.state === 'resumed' ? 'Suspended rule judges again, on probation.' : 'Rule judged through its probation; restored.');
    }
    return ruleFailureFinding(f);
  }

  private scheduleFinding(out: CycleOutput, ts: number): Finding | undefined {
    const wasLate = this.late.has(out.device);
    const isLate = out.skipped_cycles > 0;
    if (wasLate === isLate) return undefined;
    if (isLate) this.late.add(out.device);
    else this.late.delete(out.device);
    return {
      rule: SCHEDULE_RULE,
      device: out.device,
      category: 'availability',
      severity: 'low',
      active: isLate,
      ts,
      message: isLate ? `poll cycles of ${out.device} overran their interval; ${out.skipped_cycles} cycle(s) skipped` : `poll schedule of ${out.device} is kept again`,
      response: 'Check the device round-trip time and request plan; raise interval_ms or lower timeout_ms/retries.',
      observed: { skipped_cycles: out.skipped_cycles },
    };
  }

  /** Raised when a device loop was restarted; cleared by the first cycle the new loop completes. */
  private restartFinding(out: CycleOutput, ts: number): Finding | undefined {
    const r = out.loop_restart;
    if (r === undefined) {
      if (!this.restarted.delete(out.device)) return undefined;
      return { rule: LOOP_RESTART_RULE, device: out.device, category: 'availability', severity: 'medium', active: false, ts, message: `poll loop of ${out.device} runs again`, response: RESTART_RESPONSE };
    }
    this.restarted.add(out.device);
    return {
      rule: LOOP_RESTART_RULE,
      device: out.device,
      category: 'availability',
      severity: 'medium',
      active: true,
      ts,
      message: `poll loop of ${out.device} stopped on an unexpected error and restarts in ${r.restart_in_ms} ms (restart ${r.restarts}): ${r.error}`,
      response: RESTART_RESPONSE,
      observed: r.error,
      evidence: { restarts: r.restarts, restart_in_ms: r.restart_in_ms },
    };
  }

  /** The event that reports drafts lost while the outbox could not commit. */
  private lossDraft(ts: string): SignalDraft {
    return {
      ts,
      device: 'agent',
      rule: 'otsentry.uncommitted_loss',
      category: 'availability',
      severity: 'high',
      state: 'raised',
      score: 0,
      message: `${this.lostUncommitted} events were lost because the outbox could not commit them (disk full or unavailable)`,
      evidence: { lost: this.lostUncommitted },
    };
  }

  /** Commit drafts; on failure keep them (bounded) and retry with the next cycle. */
  private commit(drafts: SignalDraft[]): void {
    const batch = this.uncommitted.length > 0 ? [...this.uncommitted, ...drafts] : drafts;
    if (this.lostUncommitted > 0) batch.push(this.lossDraft(batch[batch.length - 1]?.ts ?? new Date().toISOString()));
    try {
      const signals = this.outbox.append(batch);
      this.uncommitted = [];
      this.counters.signals += batch.length;
      if (this.lostUncommitted > 0) {
        this.log.warn({ lost: this.lostUncommitted }, 'Outbox accepts events again; some could not be kept in memory meanwhile (reported as an event).');
        this.lostUncommitted = 0;
      }
      this.onCommitted(signals);
    } catch (e) {
      this.counters.commit_failures++;
      this.uncommitted = this.lostUncommitted > 0 ? batch.slice(0, -1) : batch;
      if (this.uncommitted.length > MAX_UNCOMMITTED) {
        const drop = this.uncommitted.length - MAX_UNCOMMITTED;
        this.lostUncommitted += drop;
        this.uncommitted = this.uncommitted.slice(drop);
      }
      if (this.counters.commit_failures === 1 || this.counters.commit_failures % 100 === 0) {
        this.log.error({ err: (e as Error).message, held: this.uncommitted.length }, 'Outbox commit failed; holding events in memory and retrying.');
      }
    }
  }
}
