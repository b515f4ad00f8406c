// Replay: a rule set over a recording at full speed, with the recording's own timestamps as the
// only clock. The recording is turned back into poll cycles (CycleFeeder) and each is judged by
// the agent's own cycle judge (rules/judge), so the signals are those `run` would have sent; per
// rule counts, per cycle flags and label scores come out.
import { AlertManager, alertKey, type AlertsConfigInput } from '../alerts/index.js';
import type { SignalDraft } from '../signal.js';
import { RuleEngine } from '../engine.js';
import { CycleJudge, type Cycle } from '../judge/index.js';
import type { DeviceRef, Finding } from '../types.js';
import { CycleFeeder } from '../recording/cycles.js';
import type { RecordEvent } from '../recording/recording.js';
import { scoreRows, type LabelScore, type ScoredRow } from './score.js';

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

export class Replay {
  readonly judge: CycleJudge;
  private readonly feeder = new CycleFeeder((c) => this.cycle(c));
  private readonly counts = new Map<string, RuleCount>();
  private readonly active = new Set<string>();
  private readonly rows: ScoredRow[] = [];
  private summary: Omit<ReplaySummary, 'rules' | 'active_at_end'> = { cycles: 0, samples: 0, facts: 0, raised: 0, signals: { raised: 0, cleared: 0 } };
  private latest = -Infinity;

  /** @throws RuleConfigError when a rule is invalid for the devices */
  constructor(private readonly o: ReplayOptions) {
    const engine = new RuleEngine(o.rules, o.devices);
    this.judge = new CycleJudge(engine, new AlertManager(o.alerts ?? {}, { devices: o.devices.map((d) => d.id) }), { onFindings: (fs) => this.findings(fs) });
    for (const r of engine.rules) this.counts.set(r.id, { rule: r.id, type: r.type, device: r.device, raised: 0, cleared: 0 });
  }

  /** One line of a recording. */
  push(ev: RecordEvent): void {
    this.feeder.push(ev);
  }

  /** A cycle as the scheduler hands it over (a modelled PLC polled in process). */
  pushCycle(c: Cycle): void {
    this.cycle(c);
  }

  async run(events: AsyncIterable<RecordEvent>): Promise<ReplaySummary> {
    for await (const ev of events) this.feeder.push(ev);
    return this.finish();
  }

  finish(): ReplaySummary {
    this.feeder.finish();
    const s: ReplaySummary = { ...this.summary, rules: [...this.counts.values()], active_at_end: this.active.size };
    if (this.o.scoreLabels && this.rows.length > 0) s.labels = scoreRows(this.rows);
    return s;
  }

  private cycle(c: Cycle & { label?: number }): void {
    const drafts = this.judge.judge(c);
    const sum = this.summary;
    for (const d of drafts) {
      if (d.state === 'raised') sum.signals.raised++;
      else sum.signals.cleared++;
      this.o.onSignal?.(d);
    }
    const ts = this.judge.time;
    sum.cycles++;
    sum.samples += c.samples.length;
    sum.facts += c.facts.length;
    sum.first_ts ??= ts;
    if (ts > this.latest) this.latest = ts;
    sum.last_ts = this.latest;
    const flagged = this.active.size > 0;
    if (c.label !== undefined && this.o.scoreLabels) this.rows.push({ ts, label: c.label, flagged });
    this.o.onCycle?.(c.device, ts, flagged, c.label);
  }

  private findings(fs: readonly Finding[]): void {
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
  }
}
