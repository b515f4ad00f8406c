// The rule engine: routes samples and facts to the detectors of their device/tag and returns
// findings. Pure and synchronous; its only clock is the timestamps of the data it is given.
import type { Fact, FactKind, Sample } from '../protocols/types.js';
import { DETECTOR_TYPES } from './registry.js';
import type { Detector, DeviceRef, DeviceValues, Finding, FindingSink, ResolvedRule } from './types.js';
import { compileRules, RuleConfigError } from './validate.js';

/** Returned when nothing changed: shared and frozen, so the common path allocates nothing. */
const NONE: readonly Finding[] = Object.freeze([]);

class Collector implements FindingSink {
  private items: Finding[] | null = null;
  push(f: Finding): void {
    if (this.items === null) this.items = [f];
    else this.items.push(f);
  }
  take(): readonly Finding[] {
    const r = this.items;
    if (r === null) return NONE;
    this.items = null;
    return r;
  }
}

interface TagEntry {
  index: number;
  dets: Detector[];
  slots: number[];
}

interface DeviceEntry {
  values: DeviceValues;
  tags: Map<string, TagEntry>;
  facts: Map<FactKind, Detector[]>;
  cycle: Detector[];
}

/** A sample as a number: booleans 1/0; NaN for null, strings and any quality but good. */
export function numericValue(s: Sample): number {
  if (s.quality !== 'good') return NaN;
  const v = s.value;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return NaN;
}

export class RuleEngine {
  /** enabled rules, resolved (defaults applied) */
  readonly rules: readonly ResolvedRule[];
  private readonly devs = new Map<string, DeviceEntry>();
  private readonly timedDets: Detector[] = [];
  private readonly sink = new Collector();
  private samples = 0;
  private evaluations = 0;

  /**
   * @param rules   the `rules:` list of the config (raw or already parsed by ruleBaseSchema)
   * @param devices the devices; only `id` and `tags[].name` are used
   * @throws RuleConfigError listing every problem when a rule is invalid
   */
  constructor(rules: readonly unknown[], devices: readonly DeviceRef[]) {
    const { rules: resolved, issues } = compileRules(rules, devices);
    if (issues.length) throw new RuleConfigError(issues);
    for (const d of devices) {
      const names = d.tags.map((t) => t.name);
      const index = new Map(names.map((n, i) => [n, i]));
      const values: DeviceValues = { names, index, values: new Float64Array(names.length).fill(NaN) };
      const tags = new Map<string, TagEntry>(names.map((n, i) => [n, { index: i, dets: [], slots: [] }]));
      this.devs.set(d.id, { values, tags, facts: new Map(), cycle: [] });
    }
    this.rules = resolved.filter((r) => r.enabled);
    for (const rule of this.rules) {
      const dev = this.devs.get(rule.device)!;
      const det = DETECTOR_TYPES.get(rule.type)!.create(rule, { device: dev.values });
      det.tags.forEach((t, slot) => {
        const e = dev.tags.get(t)!;
        e.dets.push(det);
        e.slots.push(slot);
      });
      for (const k of det.factKinds) {
        const list = dev.facts.get(k);
        if (list) list.push(det);
        else dev.facts.set(k, [det]);
      }
      if (det.cycle) dev.cycle.push(det);
      if (det.timed) this.timedDets.push(det);
    }
  }

  /** Judge one sample. The result is empty (and shared) unless a condition started or ended. */
  onSample(s: Sample): readonly Finding[] {
    const dev = this.devs.get(s.device);
    if (dev === undefined) return NONE;
    const t = dev.tags.get(s.tag);
    if (t === undefined) return NONE;
    const v = numericValue(s);
    dev.values.values[t.index] = v;
    this.samples++;
    const dets = t.dets;
    const n = dets.length;
    if (n === 0) return NONE;
    this.evaluations += n;
    const slots = t.slots;
    const sink = this.sink;
    for (let i = 0; i < n; i++) dets[i].onSample!(s, v, slots[i], sink);
    return sink.take();
  }

  /**
   * Judge one fact. A `link` fact also ends the device's poll cycle (see endCycle), so the
   * scheduler must hand over a cycle's samples before its link fact.
   */
  onFact(f: Fact): readonly Finding[] {
    const dev = this.devs.get(f.device);
    if (dev === undefined) return NONE;
    const dets = dev.facts.get(f.kind);
    if (dets !== undefined) {
      this.evaluations += dets.length;
      for (const d of dets) d.onFact!(f, this.sink);
    }
    if (f.kind === 'link') this.runCycle(dev, f.ts);
    return this.sink.take();
  }

  /** End of a poll cycle of a device without a link fact (replays of recordings, tests). */
  endCycle(device: string, ts: number): readonly Finding[] {
    const dev = this.devs.get(device);
    if (dev === undefined) return NONE;
    this.runCycle(dev, ts);
    return this.sink.take();
  }

  /** Time-based conditions (hold times, change windows, maintenance windows) at time ts. */
  evaluateTime(ts: number): readonly Finding[] {
    for (const d of this.timedDets) d.onTime!(ts, this.sink);
    return this.sink.take();
  }

  /** Samples judged and detector evaluations made so far (for metrics and the benchmark). */
  stats(): { samples: number; evaluations: number; rules: number } {
    return { samples: this.samples, evaluations: this.evaluations, rules: this.rules.length };
  }

  private runCycle(dev: DeviceEntry, ts: number): void {
    const c = dev.cycle;
    this.evaluations += c.length;
    for (let i = 0; i < c.length; i++) c[i].onCycle!(ts, this.sink);
  }
}
