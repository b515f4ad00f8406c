// Replay: a rule set over a recording at full speed, with the recording's own timestamps as the
// only clock. The rule engine judges every sample, fact and cycle; the alert stage turns findings
// into the signals the agent would emit; per rule counts, per cycle flags and label scores come out.
import { AlertManager, alertKey, type AlertsConfigInput } from '../alerts/index.js';
import type { SignalDraft } from '../signal.js';
import type { Fact, Sample } from '../../protocols/types.js';
import { RuleEngine } from '../engine.js';
import { ruleFailureFinding } from '../failures.js';
import type { DeviceRef, Finding } from '../types.js';
import type { RecordEvent } from '../recording/recording.js';
import { scoreRows, type LabelScore, type ScoredRow } from './score.js';
import { CycleFeeder, type CycleConsumer } from './stream.js';

/** Time-based conditions are judged at most this often (data time), as in the agent's judge stage. */
const TIME_EVAL_MS = 500;

export interface RuleCount {
  rule: string;
  type: string;
  device: string;
  /** conditions that started (findings with active: true) */
  raised: number;
  cleared: number;
  first?: number;
  last?: number;
}

export interface ReplaySummary {
  cycles: number;
  samples: number;
  facts: number;
  first_ts?: number;
  last_ts?: number;
  rules: RuleCount[];
  /** condition starts over all rules */
  raised: number;
  /** what the alert stage emitted */
  signals: { raised: number; cleared: number };
  /** conditions still active at the end */
  active_at_end: number;
  labels?: LabelScore;
}

export interface ReplayOptions {
  rules: readonly unknown[];
  devices: readonly DeviceRef[];
  alerts?: AlertsConfigInput;
  /** every signal draft the agent would emit, in order */
  onSignal?: (d: SignalDraft) => void;
  /** every finding (condition start or end) */
  onFinding?: (f: Finding) => void;
  /** after every cycle: whether any condition is active (for scorers with their own truth) */
  onCycle?: (device: string, ts: number, flagged: boolean, label: number | undefined) => void;
  /** score cycles that carry a label (CSV label column) */
  scoreLabels?: boolean;
}

export class Replay implements CycleConsumer {
  readonly engine: RuleEngine;
  private readonly alerts: AlertManager;
  private readonly feeder: CycleFeeder;
  private readonly counts = new Map<string, RuleCount>();
  private readonly active = new Set<string>();
  private readonly rows: ScoredRow[] = [];
  private summary: Omit<ReplaySummary, 'rules' | 'active_at_end'> = { cycles: 0, samples: 0, facts: 0, raised: 0, signals: { raised: 0, cleared: 0 } };
  private lastTimeEval = -Infinity;
  private latest = -Infinity;

  /** @throws RuleConfigError when a rule is invalid for the devices */
  constructor(private readonly o: ReplayOptions) {
    this.engine = new RuleEngine(o.rules, o.devices);
    this.alerts = new AlertManager(o.alerts ?? {}, { devices: o.devices.map((d) => d.id) });
    this.feeder = new CycleFeeder(this);
    for (const r of this.engine.rules) this.counts.set(r.id, { rule: r.id, type: r.type, device: r.device, raised: 0, cleared: 0 });
  }

  push(ev: RecordEvent): void {
    this.feeder.push(ev);
  }

  /** A live poll cycle (samples, then facts with the link fact last). */
  pushCycle(samples: readonly Sample[], facts: readonly Fact[]): void {
    this.feeder.pushCycle(samples, facts);
  }

  async run(events: AsyncIterable<RecordEvent>): Promise<ReplaySummary> {
    for await (const ev of events) this.feeder.push(ev);
    return this.finish();
  }

  sample(s: Sample): void {
    this.summary.samples++;
    this.note(s.ts);
    this.findings(this.engine.onSample(s));
  }

  fact(f: Fact): void {
    this.summary.facts++;
    this.note(f.ts);
    this.findings(this.engine.onFact(f));
    if (f.kind === 'link') this.cycleDone(f.device, f.ts, undefined);
  }

  endCycle(device: string, ts: number, label?: number): void {
    this.note(ts);
    this.findings(this.engine.endCycle(device, ts));
    this.cycleDone(device, ts, label);
  }

  finish(): ReplaySummary {
    this.feeder.finish();
    const s: ReplaySummary = { ...this.summary, rules: [...this.counts.values()], active_at_end: this.active.size };
    if (this.o.scoreLabels && this.rows.length > 0) s.labels = scoreRows(this.rows);
    return s;
  }

  private note(ts: number): void {
    if (this.summary.first_ts === undefined) this.summary.first_ts = ts;
    if (ts > this.latest) this.latest = ts;
    this.summary.last_ts = this.latest;
  }

  private cycleDone(device: string, ts: number, label: number | undefined): void {
    this.summary.cycles++;
    if (ts - this.lastTimeEval >= TIME_EVAL_MS) {
      this.findings(this.engine.evaluateTime(ts));
      this.lastTimeEval = ts;
    }
    // A rule that threw is reported as the agent would (otsentry.rule_failed), not as a crash.
    for (const f of this.engine.takeFailures()) {
      const finding = ruleFailureFinding(f);
      if (finding) this.findings([finding]);
    }
    this.signals(this.alerts.tick(ts));
    const flagged = this.active.size > 0;
    if (label !== undefined && this.o.scoreLabels) this.rows.push({ ts, label, flagged });
    this.o.onCycle?.(device, ts, flagged, label);
  }

  private findings(fs: readonly Finding[]): void {
    if (fs.length === 0) return;
    for (const f of fs) {
      const c = this.counts.get(f.rule);
      const key = alertKey(f);
      if (f.active) {
        this.active.add(key);
        this.summary.raised++;
        if (c) {
          c.raised++;
          c.first ??= f.ts;
          c.last = f.ts;
        }
      } else {
        this.active.delete(key);
        if (c) c.cleared++;
      }
      this.o.onFinding?.(f);
    }
    this.signals(this.alerts.onFindings(fs));
  }

  private signals(ds: readonly SignalDraft[]): void {
    for (const d of ds) {
      if (d.state === 'raised') this.summary.signals.raised++;
      else this.summary.signals.cleared++;
      this.o.onSignal?.(d);
    }
  }
}
