// Baseline learning: observes normal operation (a recording or live polls), then writes rules with
// the evidence behind each: approved constants (integrity), allowed values and change limits of
// discrete tags, ranges, rates and stuck limits of measurements, invariants and linear relations
// between tags, the identity, round-trip time, exception answers and diagnostic counter growth.
// Generic: nothing here knows a process, a dataset or a tag by name.
import type { Fact, Sample } from '../../protocols/types.js';
import { numericValue } from '../engine.js';
import type { Cycle } from '../judge/cycle.js';
import type { DeviceRef } from '../types.js';
import type { RecordEvent } from '../recording/recording.js';
import { CycleFeeder } from '../recording/cycles.js';
import { FactStats } from './facts.js';
import { mineModels, sig } from './models.js';
import { learnOptions, type LearnOptions } from './options.js';
import { judgeEnvelope, type TagVerdict } from './convergence.js';
import { EnvelopeTracker } from './envelope.js';
import { robustGrid } from './grid.js';
import { robustRate, settleDevice } from './robust.js';
import { holdsValues } from './transients.js';
import { exprName, mineInvariants } from './invariants.js';
import { CycleTable, halfExtremes, longestStill, maxChangesInWindow, tagKind, TagStats, type TagKind } from './stats.js';

export interface LearnedRule {
  rule: Record<string, unknown>;
  /** comment lines: what was observed that justifies the rule */
  evidence: string[];
}

export interface DeviceSummary {
  id: string;
  cycles: number;
  samples: number;
  kinds: Record<string, TagKind>;
}

export interface LearnResult {
  rules: LearnedRule[];
  devices: DeviceSummary[];
  first_ts?: number;
  last_ts?: number;
  samples: number;
  facts: number;
  /** samples of tags or devices the learner was not told about */
  ignored: number;
  options: LearnOptions;
  /** per tag of every device seen: has its envelope converged (rules/learn/convergence.ts) */
  convergence: TagVerdict[];
}

/** How far learning got (for progress lines). */
export interface LearnProgress {
  samples: number;
  devices: Array<{ id: string; cycles: number }>;
  first_ts?: number;
  last_ts?: number;
}

class DeviceState {
  readonly index: Map<string, number>;
  readonly values: Float64Array;
  readonly stats: TagStats[];
  readonly envelopes: EnvelopeTracker[];
  readonly table: CycleTable;
  readonly facts = new FactStats();
  cycles = 0;
  samples = 0;
  first = Infinity;
  last = -Infinity;
  /** after result(): per tag, the envelope of what its rules were learned from (odd episodes and left-out values not in it) */
  learnedEnvelopes: Array<EnvelopeTracker | undefined> | undefined;

  constructor(
    readonly id: string,
    readonly names: string[],
    maxCells: number,
  ) {
    this.index = new Map(names.map((n, i) => [n, i]));
    this.values = new Float64Array(names.length).fill(NaN);
    this.stats = names.map(() => new TagStats());
    this.envelopes = names.map(() => new EnvelopeTracker());
    this.table = new CycleTable(names, Math.max(1000, Math.floor(maxCells / Math.max(1, names.length))));
  }
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]+/g, '_');

/**
 * Per tag, an envelope summary of the cycles and values its rules were learned from: not the odd
 * episodes, and for a measurement only values within its robust bounds, for a discrete tag only
 * its allowed values. Undefined where the table does not hold the whole window (it was full) or
 * the kind has no such bounds: the streaming summary judges those.
 */
function learnedEnvelopes(d: DeviceState, kinds: ReadonlyMap<string, TagKind>, screened: Uint8Array, o: LearnOptions): Array<EnvelopeTracker | undefined> {
  return d.names.map((tag, j) => {
    const kind = kinds.get(tag);
    const s = d.stats[j];
    if (d.table.dropped > 0 || (kind !== 'continuous' && kind !== 'discrete')) return undefined;
    const allowed = kind === 'discrete' ? new Set(s.common(o).map(([v]) => v)) : undefined;
    const keep = (v: number) => (allowed ? allowed.has(v) : !(s.lo === s.lo) || (v >= s.lo && v <= s.hi));
    const e = new EnvelopeTracker();
    d.table.rows.forEach((row, i) => {
      const v = row[j];
      if (v === v && !screened[i] && keep(v)) e.add(v, d.table.ts[i]);
    });
    return e;
  });
}
const dur = (ms: number) => (ms >= 3_600_000 ? `${sig(ms / 3_600_000, 3)} h` : ms >= 60_000 ? `${sig(ms / 60_000, 3)} min` : `${sig(ms / 1000, 3)} s`);

export class Learner {
  readonly options: LearnOptions;
  private readonly devs = new Map<string, DeviceState>();
  private readonly feeder = new CycleFeeder((c) => this.cycle(c));
  private samples = 0;
  private facts = 0;
  private ignored = 0;

  constructor(devices: readonly DeviceRef[], options: Partial<LearnOptions> = {}) {
    this.options = learnOptions(options);
    for (const d of devices) this.devs.set(d.id, new DeviceState(d.id, d.tags.map((t) => t.name), this.options.max_cells));
  }

  push(ev: RecordEvent): void {
    this.feeder.push(ev);
  }

  /** One poll cycle (live, or read back from a recording). A loop restart report is no poll. */
  cycle(c: Cycle): void {
    if (c.loop_restart !== undefined) return;
    let end = c.ts ?? -Infinity;
    for (const s of c.samples) {
      this.sample(s);
      if (s.ts > end) end = s.ts;
    }
    let link: number | undefined;
    for (const f of c.facts) {
      this.fact(f);
      if (f.kind === 'link') link = f.ts;
    }
    // A cycle's row is stamped with its link fact (the time of its first answer), else its latest sample.
    if (link !== undefined) end = link;
    if (end > -Infinity) this.endCycle(c.device, end);
  }

  async run(events: AsyncIterable<RecordEvent>): Promise<LearnResult> {
    for await (const ev of events) this.feeder.push(ev);
    return this.result();
  }

  private sample(s: Sample): void {
    const d = this.devs.get(s.device);
    const i = d?.index.get(s.tag);
    if (d === undefined || i === undefined) {
      this.ignored++;
      return;
    }
    this.samples++;
    d.samples++;
    if (s.ts < d.first) d.first = s.ts;
    if (s.ts > d.last) d.last = s.ts;
    const v = numericValue(s);
    d.values[i] = v;
    if (v === v) {
      d.stats[i].add(v, s.ts);
      d.envelopes[i].add(v, s.ts);
    }
    else if (typeof s.value === 'string' && s.quality === 'good') d.stats[i].addString(s.value);
    else d.stats[i].bad++;
  }

  private fact(f: Fact): void {
    const d = this.devs.get(f.device);
    if (d === undefined) return;
    this.facts++;
    d.facts.add(f);
  }

  private endCycle(device: string, ts: number): void {
    const d = this.devs.get(device);
    if (d === undefined) return;
    d.cycles++;
    if (d.values.some((v) => v === v)) d.table.add(d.values, ts);
  }

  result(): LearnResult {
    this.feeder.finish();
    const rules: LearnedRule[] = [];
    const ids = new Set<string>();
    const add = (r: Record<string, unknown>, evidence: string[]) => {
      let id = String(r.id);
      for (let k = 2; ids.has(id); k++) id = `${r.id}-${k}`;
      ids.add(id);
      rules.push({ rule: { ...r, id }, evidence });
    };
    const devices: DeviceSummary[] = [];
    let first = Infinity, last = -Infinity;
    for (const d of this.devs.values()) {
      const kinds = new Map(d.names.map((n, i) => [n, tagKind(d.stats[i], this.options)]));
      devices.push({ id: d.id, cycles: d.cycles, samples: d.samples, kinds: Object.fromEntries(kinds) });
      if (d.samples === 0 && d.facts.linkFacts === 0) continue;
      first = Math.min(first, d.first);
      last = Math.max(last, d.last);
      this.deviceRules(d, kinds, add, this.options, true);
    }
    return { rules, devices, first_ts: Number.isFinite(first) ? first : undefined, last_ts: Number.isFinite(last) ? last : undefined, samples: this.samples, facts: this.facts, ignored: this.ignored, options: this.options, convergence: this.convergence() };
  }

  /** Per tag of every device seen so far: has its envelope converged. Cheap: call it any time. */
  convergence(): TagVerdict[] {
    const o = this.options;
    const out: TagVerdict[] = [];
    for (const d of this.seen()) {
      d.names.forEach((tag, i) => {
        const kind = tagKind(d.stats[i], o);
        const learned = d.learnedEnvelopes?.[i];
        const v = judgeEnvelope(learned ?? d.envelopes[i], kind, o.noise * d.stats[i].magnitude, o.min_cycles);
        // what was left out as odd (an attack's values, a glitch) does not make the learned envelope grow
        const left = learned ? d.envelopes[i].count - learned.count : 0;
        out.push({ device: d.id, tag, kind, ...v, text: left > 0 && v.converged ? `${v.text}; ${left} sample${left === 1 ? '' : 's'} left out as odd not counted` : v.text });
      });
    }
    return out;
  }

  progress(): LearnProgress {
    const seen = this.seen();
    const first = Math.min(...seen.map((d) => d.first));
    const last = Math.max(...seen.map((d) => d.last));
    return { samples: this.samples, devices: [...this.devs.values()].map((d) => ({ id: d.id, cycles: d.cycles })), first_ts: Number.isFinite(first) ? first : undefined, last_ts: Number.isFinite(last) ? last : undefined };
  }

  /**
   * How many rules learning would write now, leaving out relations between tags (mined at the end).
   * Judged on at most maxRows evenly spaced cycles of each device: a day of polls would otherwise
   * hold the event loop (and the polls with it) for a second or more.
   */
  rulesSoFar(maxRows = 2000): number {
    let n = 0;
    const o = { ...this.options, invariants: false, models: false };
    for (const d of this.seen()) {
      const rows = d.table.rows.length;
      let view = d;
      if (rows > maxRows) {
        const table = new CycleTable(d.names, maxRows);
        for (let i = 0, step = Math.ceil(rows / maxRows); i < rows; i += step) table.add(d.table.rows[i], d.table.ts[i]);
        view = Object.assign(Object.create(d) as DeviceState, { table });
      }
      this.deviceRules(view, new Map(d.names.map((t, i) => [t, tagKind(d.stats[i], o)])), () => n++, o);
    }
    return n;
  }

  private seen(): DeviceState[] {
    return [...this.devs.values()].filter((d) => d.samples > 0 || d.facts.linkFacts > 0);
  }

  /** @param final the learning result (not a count of rules so far): the learned envelopes are kept for the convergence verdicts */
  private deviceRules(d: DeviceState, kinds: ReadonlyMap<string, TagKind>, add: (r: Record<string, unknown>, ev: string[]) => void, o = this.options, final = false): void {
    const dev = d.id;
    const st = (t: string) => d.stats[d.index.get(t)!];
    const interval = d.table.medianInterval();
    const window = d.last - d.first;
    const where = `${d.table.rows.length} cycles${d.table.dropped ? ` (the first; ${d.table.dropped} more not kept)` : ''}`;
    const byKind = (k: TagKind) => d.names.filter((n) => kinds.get(n) === k);
    // cycles of odd episodes: rules learned from the cycles (change limits, rates, invariants) leave them out
    d.facts.settle(o);
    const { screened, brief } = settleDevice(d.table, d.stats, kinds, o, d.facts.eventTimes());
    if (final) d.learnedEnvelopes = learnedEnvelopes(d, kinds, screened, o);

    const constants = byKind('constant');
    if (constants.length > 0) {
      const baseline = Object.fromEntries(constants.map((t) => [t, sig(st(t).min, 10)]));
      add({ id: `${dev}.baseline`, type: 'integrity', device: dev, baseline }, [`never changed while learning (${constants.length} tag${constants.length === 1 ? '' : 's'}, ${Math.min(...constants.map((t) => st(t).count))}+ samples each): approved values`]);
    }
    const f = d.facts;
    if (f.identity && !f.identityChanged) {
      add({ id: `${dev}.identity`, type: 'identity', device: dev, expected: f.identity }, [`the same identity in all ${f.identityReads} identity reads`]);
    }
    for (const t of byKind('text')) {
      const s = st(t);
      if (s.manyStrings || s.strings.size > o.max_discrete) continue;
      add({ id: `${dev}.${safe(t)}.values`, type: 'allowed_values', device: dev, tag: t, values: [...s.strings.keys()].sort() }, [`${t}: ${s.strings.size} distinct texts in ${s.count} samples`]);
    }
    for (const t of byKind('discrete')) {
      const s = st(t);
      const counts = s.common(o);
      const rare = s.distinct.size - counts.length;
      add({ id: `${dev}.${safe(t)}.values`, type: 'allowed_values', device: dev, tag: t, values: counts.map(([v]) => v) }, [`${t}: only ${counts.map(([v, c]) => `${v} (${c}x)`).join(', ')} in ${s.count} samples${rare ? `; ${rare} rarer value${rare === 1 ? '' : 's'} (under ${o.rare_share * 100}% of the samples each) left out` : ''}`]);
      const win = Math.round(o.change_window_cycles * interval);
      if (!(win > 0)) continue;
      const changes = maxChangesInWindow(d.table.columnWithout(d.index.get(t)!, screened), d.table.ts, win);
      add(
        { id: `${dev}.${safe(t)}.changes`, type: 'rate', device: dev, tag: t, max_changes: Math.ceil((1 + o.rate_margin) * Math.max(1, changes)), window_ms: win, category: 'whitelist' },
        [`${t}: at most ${changes} change${changes === 1 ? '' : 's'} within any ${dur(win)} (${o.change_window_cycles} cycles) over ${where}; limit +${o.rate_margin * 100}%`],
      );
    }
    for (const t of byKind('continuous')) {
      const s = st(t);
      const tol = o.noise * s.magnitude;
      const m = o.margin * s.span + tol;
      const col = d.table.column(d.index.get(t)!);
      const g = halfExtremes(col, s.lo, s.hi);
      // An extreme both halves of a measurement reached alike is a floor or ceiling (an empty
      // tank, a sensor's lower limit): only the tolerance beyond it. Otherwise the margin, or more
      // where the halves' extremes differ (the range was still growing). A set-point's extremes
      // are only the entries seen so far, never a limit: always the margin.
      const held = holdsValues(col);
      const lo = g.lowGrowth <= tol && !held ? 2 * tol : Math.max(m, g.lowGrowth);
      const hi = g.highGrowth <= tol && !held ? 2 * tol : Math.max(m, g.highGrowth);
      add(
        { id: `${dev}.${safe(t)}.range`, type: 'range', device: dev, tag: t, min: sig(s.lo - lo, 6), max: sig(s.hi + hi, 6) },
        [`${t}: observed ${sig(s.lo, 6)} .. ${sig(s.hi, 6)} in ${s.count} samples${s.leftOut ? ` (${s.leftOut} isolated values out to ${sig(s.min, 4)} .. ${sig(s.max, 4)} left out)` : ''}; margin -${sig(lo, 3)} / +${sig(hi, 3)} (${o.margin * 100}% of the span + tolerance, wider where the two halves of the window reached different extremes, twice the tolerance where both reached the same)`],
      );
      const grid = s.allInteger ? undefined : robustGrid(d.table.columnWithout(d.index.get(t)!, screened), s, o);
      if (grid) {
        add(
          { id: `${dev}.${safe(t)}.grid`, type: 'grid', device: dev, tag: t, step: sig(grid.step, 8), tolerance: sig(grid.tolerance, 2) },
          [`${t}: ${grid.points} distinct values seen (${sig(100 * grid.share, 3)}% of the samples within its range) are multiples of ${sig(grid.step, 8)} (its resolution: ADC step or entry precision); tolerance ${sig(grid.tolerance, 2)} of a step (4 x how far the values were from it)`],
        );
      }
      for (const b of brief.get(d.index.get(t)!) ?? []) {
        add(
          { id: `${dev}.${safe(t)}.transient`, type: 'expression', device: dev, expr: `${exprName(t)} != ${sig(b.value, 10)}`, for_ms: interval > 0 ? Math.round(interval) : 0 },
          [`${t}: ${sig(b.value, 10)} in ${b.cycles} cycles, ${sig(b.factor, 3)}x as often as any value near it, visited ${b.visits} times and left again after ${dur(b.median_visit_ms)} in the median: a constant written over the measurement again and again, not a state the process keeps; raised when it is there for two cycles in a row`],
        );
      }
      const fastest = robustRate(d.table.columnWithout(d.index.get(t)!, screened), d.table.ts, s);
      if (fastest.rate > 0 && interval > 0) {
        const maxPerS = fastest.rate * (1 + o.rate_margin) + (tol * 1000) / interval;
        add({ id: `${dev}.${safe(t)}.rate`, type: 'rate', device: dev, tag: t, max_per_s: sig(maxPerS, 4) }, [`${t}: fastest change ${sig(fastest.rate, 4)}/s between two samples${fastest.left_out ? ` (${fastest.left_out} jumps to or from isolated values left out)` : ''}; limit +${o.rate_margin * 100}% and tolerance`]);
      }
    }
    for (const t of [...byKind('continuous'), ...byKind('counter')]) {
      const s = st(t);
      const tol = kinds.get(t) === 'counter' ? 0 : sig(o.noise * s.magnitude, 4);
      const still = longestStill(d.table.column(d.index.get(t)!), d.table.ts, tol);
      if (!(interval > 0) || still >= 0.25 * window) continue;
      const duration = Math.round(Math.max(still * o.stuck_factor, 3 * interval));
      add(
        { id: `${dev}.${safe(t)}.stuck`, type: 'stuck', device: dev, tag: t, duration_ms: duration, tolerance: tol },
        [`${t}: stood still${tol ? ` (within ${tol})` : ''} for at most ${dur(still)} over ${dur(window)}; cycle ${dur(interval)}`],
      );
    }
    if (o.invariants) {
      for (const inv of mineInvariants(d.table.without(screened), new Map(d.names.map((n, i) => [n, d.stats[i]])), kinds, o)) {
        add({ id: `${dev}.inv.${safe(inv.name)}`, type: 'expression', device: dev, expr: inv.expr, for_ms: interval > 0 ? Math.round(interval) : 0 }, [`held in all ${where}, ${inv.episodes} separate episodes: ${inv.evidence}; raised when false for two cycles in a row (one cycle can mix two reads)`]);
      }
    }
    if (o.models) {
      for (const mdl of mineModels(d.table, new Map(d.names.map((n, i) => [n, d.stats[i]])), kinds, o)) {
        const inputs = mdl.terms.map((t) => `${t.tag}${t.times ? ` x ${t.times}` : ''}${t.lag ? `[-${t.lag}]` : ''}`).join(', ');
        add(
          { id: `${dev}.${safe(mdl.target)}.${mdl.kind === 'level' ? 'model' : 'change'}`, type: 'residual', device: dev, target: mdl.target, intercept: mdl.intercept, terms: mdl.terms.map(({ lag, ...t }) => (lag ? { ...t, lag } : t)), sigma: mdl.sigma, k: mdl.k, h: mdl.h },
          [`${mdl.kind === 'level' ? mdl.target : `${mdl.target}'s change since the previous cycle`} from ${inputs}: error scale ${mdl.sigma} (explains ${sig(100 * mdl.r2, 3)}% of its variation) over ${mdl.n} cycles; drift while learning: largest ${sig(mdl.max_drift, 3)}${mdl.odd_episodes ? `, ${sig(mdl.usual_drift, 3)} without ${mdl.odd_episodes} odd episode${mdl.odd_episodes === 1 ? '' : 's'} far beyond the others` : ''}`],
        );
      }
    }
    if (f.linkFacts > 0) {
      const r = f.rttSummary();
      const margin = r ? Math.max(25, Math.ceil(1.5 * (r.max - r.median))) : 25;
      add(
        { id: `${dev}.link`, type: 'availability', device: dev, rtt_min_margin_ms: margin },
        [r ? `round-trip time median ${sig(r.median, 3)} ms, p99 ${sig(r.p99, 3)} ms, max ${sig(r.max, 3)} ms in ${r ? f.rtt.length : 0} polls; ${f.unreachable} unreachable polls` : `${f.unreachable} unreachable polls, no round-trip times`],
      );
      add(
        { id: `${dev}.answers`, type: 'exceptions', device: dev, max_exceptions_per_poll: f.maxExceptions, max_bad_responses_per_poll: f.maxBadResponses },
        [`at most ${f.maxExceptions} exception answers and ${f.maxBadResponses} malformed answers per poll in ${f.linkFacts} polls`],
      );
    }
    if (f.intervals > 0) {
      add(
        { id: `${dev}.counters`, type: 'diagnostics', device: dev, tolerance: Math.ceil(1.25 * Math.max(0, f.maxForeign)) + 2, max_comm_errors: f.maxCommErrors, max_foreign_exceptions: f.maxForeignExceptions },
        [`per diagnostics interval (${f.intervals} intervals): at most ${f.maxForeign} messages besides the agent's, ${f.maxCommErrors} comm errors, ${f.maxForeignExceptions} exceptions to other clients${f.beyond ? ` (${f.beyond} rarer intervals beyond, under ${o.event_share * 100}% of them: events, not background)` : ''}`],
      );
    }
  }
}
