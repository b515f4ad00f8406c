// The judge stage: the I/O around the one cycle judge (rules/judge). Each device's poll cycle is
// judged there (rules, alerts, built-in signals); here the drafts it returns are committed to the
// outbox in one transaction per cycle, held and retried while the outbox cannot commit, and
// counted, with rule failures logged, for metrics.
import { CycleJudge, type Cycle } from '../rules/judge/index.js';
import type { RuleEngine, RuleFailure } from '../rules/index.js';
import type { AlertManager } from '../rules/alerts/index.js';
import type { Outbox } from './outbox/index.js';
import type { RiskSignal, SignalDraft } from '../rules/signal.js';
import type { Logger } from '../protocols/log.js';

/** Drafts kept in memory while the outbox cannot commit (disk full, locked); beyond, the oldest go. */
const MAX_UNCOMMITTED = 10_000;

export class Judge {
  private readonly judge: CycleJudge;
  private uncommitted: SignalDraft[] = [];
  private lostUncommitted = 0;
  private readonly committed = { signals: 0, commit_failures: 0 };
  /** detector failures per device and rule (metrics) */
  readonly ruleFailures = new Map<string, { device: string; rule: string; count: number }>();

  constructor(
    engine: RuleEngine,
    alerts: AlertManager,
    private readonly outbox: Outbox,
    private readonly onCommitted: (signals: readonly RiskSignal[]) => void,
    private readonly log: Logger,
  ) {
    this.judge = new CycleJudge(engine, alerts, { onFailure: (f) => this.ruleFailure(f) });
  }

  /** Cycles, samples and findings judged; signals committed; commits that failed (metrics). */
  get counters(): { cycles: number; samples: number; findings: number; signals: number; commit_failures: number } {
    const n = this.judge.counts;
    return { cycles: n.cycles, samples: n.samples, findings: n.findings, ...this.committed };
  }

  /** Live reload: the next cycle is judged by this engine (between two cycles, so none is lost). */
  setEngine(engine: RuleEngine): void {
    this.judge.engine = engine;
  }

  get currentEngine(): RuleEngine {
    return this.judge.engine;
  }

  /** Commit signals that no rule raised (approvals and their expiry) with the cycle's own retry. */
  emit(drafts: SignalDraft[]): void {
    if (drafts.length > 0) this.commit(drafts);
  }

  /** Samples judged and detector evaluations made (metrics, benchmark). */
  engineStats(): { samples: number; evaluations: number; rules: number; suspended: number } {
    return this.judge.engine.stats();
  }

  onCycle(c: Cycle): void {
    const drafts = this.judge.judge(c);
    if (drafts.length > 0 || this.uncommitted.length > 0) this.commit(drafts);
  }

  /** A rule suspended, resumed or restored by the engine: counted and logged (the judge signals it). */
  private ruleFailure(f: RuleFailure): void {
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
  private commit(drafts: readonly SignalDraft[]): void {
    const batch = [...this.uncommitted, ...drafts];
    if (this.lostUncommitted > 0) batch.push(this.lossDraft(batch[batch.length - 1]?.ts ?? new Date().toISOString()));
    try {
      const signals = this.outbox.append(batch);
      this.uncommitted = [];
      this.committed.signals += batch.length;
      if (this.lostUncommitted > 0) {
        this.log.warn({ lost: this.lostUncommitted }, 'Outbox accepts events again; some could not be kept in memory meanwhile (reported as an event).');
        this.lostUncommitted = 0;
      }
      this.onCommitted(signals);
    } catch (e) {
      this.committed.commit_failures++;
      this.uncommitted = this.lostUncommitted > 0 ? batch.slice(0, -1) : batch;
      if (this.uncommitted.length > MAX_UNCOMMITTED) {
        const drop = this.uncommitted.length - MAX_UNCOMMITTED;
        this.lostUncommitted += drop;
        this.uncommitted = this.uncommitted.slice(drop);
      }
      if (this.committed.commit_failures === 1 || this.committed.commit_failures % 100 === 0) {
        this.log.error({ err: (e as Error).message, held: this.uncommitted.length }, 'Outbox commit failed; holding events in memory and retrying.');
      }
    }
  }
}
