// The one cycle judge: a device's poll cycle in, the signal drafts it causes out. The rule engine
// judges the samples, then the facts (the link fact last: it ends the device's cycle), time-based
// conditions at most every TIME_EVAL_MS of data time, then the built-in rules (a rule that threw,
// the poll schedule, a restarted loop); the alert stage turns the cycle's findings into drafts.
// Pure and synchronous, no I/O: the agent commits the drafts to its outbox, replay prints them,
// learn's checks, the tests and the bench count them. So replay reports what run would have sent.
import type { AlertManager } from '../alerts/manager.js';
import type { RuleEngine } from '../engine.js';
import { ruleFailureFinding, type RuleFailure } from '../failures.js';
import type { SignalDraft } from '../signal.js';
import type { Finding } from '../types.js';
import { BuiltinRules } from './builtin.js';
import type { Cycle } from './cycle.js';

/** Time-based rule conditions (hold times, windows) are evaluated at most this often (data time). */
export const TIME_EVAL_MS = 500;

const NO_DRAFTS: readonly SignalDraft[] = Object.freeze([]);

export interface JudgeHooks {
  /** The cycle's findings (rule conditions that started or ended, built-in ones included), only when there are any; the array is reused after the call. */
  onFindings?(findings: readonly Finding[], cycle: Cycle): void;
  /** A rule suspended, resumed or restored by the engine in this cycle (for logs and metrics). */
  onFailure?(failure: RuleFailure): void;
}

export interface JudgeCounts {
  cycles: number;
  samples: number;
  findings: number;
  /** signal drafts returned */
  drafts: number;
}

export class CycleJudge {
  readonly counts: JudgeCounts = { cycles: 0, samples: 0, findings: 0, drafts: 0 };
  /** data time of the cycle judged last: the latest of its ts and the timestamps it holds */
  time = 0;
  private readonly builtin = new BuiltinRules();
  /** the findings of the cycle being judged (one array, reused) */
  private readonly found: Finding[] = [];
  private lastTimeEval = -Infinity;
  private latest = -Infinity;

  /**
   * @param engine judges samples and facts; assign another (a live reload) between two cycles
   * @param alerts raise/clear lifecycle, rate and flap limits, risk score
   */
  constructor(
    public engine: RuleEngine,
    readonly alerts: AlertManager,
    private readonly hooks: JudgeHooks = {},
  ) {}

  /** Judge one cycle. Returns a shared empty array unless a signal is due (usually). */
  judge(c: Cycle): readonly SignalDraft[] {
    // Hot path (every sample of every device): no closures, no allocation unless a rule fires.
    const engine = this.engine;
    const found = this.found;
    found.length = 0;
    let ts = c.ts ?? -Infinity;
    const samples = c.samples;
    for (let i = 0; i < samples.length; i++) if (samples[i].ts > ts) ts = samples[i].ts;
    if (samples.length > 0) {
      const r = engine.onSamples(c.device, samples);
      for (let j = 0; j < r.length; j++) found.push(r[j]);
    }
    const facts = c.facts;
    let link = false;
    for (let i = 0; i < facts.length; i++) {
      const f = facts[i];
      if (f.ts > ts) ts = f.ts;
      if (f.kind === 'link') {
        link = true;
        continue;
      }
      const r = engine.onFact(f);
      for (let j = 0; j < r.length; j++) found.push(r[j]);
    }
    if (link) {
      for (let i = 0; i < facts.length; i++) {
        if (facts[i].kind !== 'link') continue;
        const r = engine.onFact(facts[i]);
        for (let j = 0; j < r.length; j++) found.push(r[j]);
      }
    }
    const restart = c.loop_restart;
    if (restart !== undefined && restart.ts > ts) ts = restart.ts;
    // A cycle that tells no time (nothing read, no ts) happens at the latest time judged.
    if (ts === -Infinity) ts = this.latest === -Infinity ? 0 : this.latest;
    else if (ts > this.latest) this.latest = ts;
    this.time = ts;
    // Without a link fact (a CSV row, a hand-written recording) the cycle ends here; a loop
    // restart is no poll, so it ends none.
    if (!link && restart === undefined) {
      const r = engine.endCycle(c.device, ts);
      for (let j = 0; j < r.length; j++) found.push(r[j]);
    }
    if (ts - this.lastTimeEval >= TIME_EVAL_MS) {
      const r = engine.evaluateTime(ts);
      for (let j = 0; j < r.length; j++) found.push(r[j]);
      this.lastTimeEval = ts;
    }
    const failures = engine.takeFailures();
    for (let i = 0; i < failures.length; i++) {
      this.hooks.onFailure?.(failures[i]);
      const f = ruleFailureFinding(failures[i]);
      if (f) found.push(f);
    }
    const schedule = this.builtin.schedule(c, ts);
    if (schedule) found.push(schedule);
    const restarted = this.builtin.restart(c, ts);
    if (restarted) found.push(restarted);

    const n = this.counts;
    n.cycles++;
    n.samples += samples.length;
    let drafts: readonly SignalDraft[] = NO_DRAFTS;
    if (found.length > 0) {
      n.findings += found.length;
      this.hooks.onFindings?.(found, c);
      drafts = this.alerts.onFindings(found);
    }
    const later = this.alerts.tick(ts);
    if (later.length > 0) drafts = drafts.length > 0 ? [...drafts, ...later] : later;
    n.drafts += drafts.length;
    return drafts;
  }
}
