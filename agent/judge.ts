// The judge stage: one device's poll cycle in, risk signals out. Runs the rule engine over the
// cycle's samples and facts, passes findings through the alert lifecycle, and commits the
// resulting drafts to the outbox in one transaction per cycle.
import type { RuleEngine, Finding } from '../rules/index.js';
import type { AlertManager } from './alerts/index.js';
import type { Outbox } from './outbox/index.js';
import type { SignalDraft } from './signal.js';
import type { CycleOutput } from './scheduler.js';
import type { Logger } from './log.js';

/** Built-in rule: a device whose poll schedule cannot be kept (never stretched silently). */
export const SCHEDULE_RULE = 'otsentry.poll_schedule';
/** Drafts kept in memory while the outbox cannot commit (disk full, locked); beyond, the oldest go. */
const MAX_UNCOMMITTED = 10_000;
/** Time-based rule conditions are evaluated at most this often (data time). */
const TIME_EVAL_MS = 500;

export class Judge {
  private readonly late = new Set<string>();
  private uncommitted: SignalDraft[] = [];
  private lostUncommitted = 0;
  private lastTimeEval = -Infinity;
  readonly counters = { cycles: 0, samples: 0, findings: 0, signals: 0, commit_failures: 0 };

  constructor(
    private readonly engine: RuleEngine,
    private readonly alerts: AlertManager,
    private readonly outbox: Outbox,
    private readonly onCommitted: () => void,
    private readonly log: Logger,
  ) {}

  /** Samples judged and detector evaluations made (metrics, benchmark). */
  engineStats(): { samples: number; evaluations: number; rules: number } {
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
    const schedule = this.scheduleFinding(out, ts);
    if (schedule) (findings ??= []).push(schedule);
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
      this.outbox.append(batch);
      this.uncommitted = [];
      this.counters.signals += batch.length;
      if (this.lostUncommitted > 0) {
        this.log.warn({ lost: this.lostUncommitted }, 'Outbox accepts events again; some could not be kept in memory meanwhile (reported as an event).');
        this.lostUncommitted = 0;
      }
      this.onCommitted();
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
