// The rule engine: routes samples and facts to the detectors of their device/tag and returns
// findings. Pure and synchronous; its only clock is the timestamps of the data it is given.
// A detector that throws is isolated: suspended for its device, retried after a backoff, and
// reported as data (takeFailures); the engine itself never throws at run time.
import type { Fact, FactKind, Sample } from '../protocols/types.js';
import { compareOrder, planBatch, sortInSampleOrder, type BatchPlan, type Origin } from './batch.js';
import { errorText, retryDelay, type RuleFailure } from './failures.js';
import { DETECTOR_TYPES } from './registry.js';
import type { Detector, DeviceRef, DeviceValues, Finding, FindingSink, ResolvedRule, SampleBatch } from './types.js';
import { compileRules, RuleConfigError } from './validate.js';

/** Returned when nothing changed: shared and frozen, so the common path allocates nothing. */
const NONE: readonly Finding[] = Object.freeze([]);
const NO_FAILURES: readonly RuleFailure[] = Object.freeze([]);

class Collector implements FindingSink {
  private items: Finding[] | null = null;
  /** set while detectors judge a batch: where each finding came from (see sortInSampleOrder) */
  batch: SampleBatch | null = null;
  det: Detector | null = null;
  readonly from: Origin[] = [];
  push(f: Finding): void {
    if (this.items === null) this.items = [f];
    else this.items.push(f);
    if (this.batch !== null) this.from.push({ pos: this.batch.at[this.batch.j], det: this.det! });
  }
  take(): readonly Finding[] {
    const r = this.items;
    if (r === null) return NONE;
    this.items = null;
    return r;
  }
}

// Detector lists are replaced, never changed in place, when a detector is suspended or resumed:
// a loop that is running over a list (the one whose detector threw) keeps its own copy.
interface TagEntry {
  name: string;
  index: number;
  dets: Detector[];
  slots: number[];
  /** the entry of the sample that came after this one last time (pollers read in a fixed order) */
  next: TagEntry | undefined;
}

interface DeviceEntry {
  values: DeviceValues;
  tags: Map<string, TagEntry>;
  facts: Map<FactKind, Detector[]>;
  cycle: Detector[];
  /** rules of this device that failed and are suspended or on probation */
  troubled: Trouble[];
  /** the entry of this device's latest sample: its `next` guesses the coming one */
  last: TagEntry | undefined;
  /** the tag entries of the last batch's samples by position (null: a tag the device does not have) */
  order: (TagEntry | null)[];
  /** how the detectors take a batch in that order; undefined after a detector was attached or detached */
  plan: BatchPlan | undefined;
}

/** A rule that threw: suspended until retryAt, then on probation until clearAt. */
interface Trouble {
  det: Detector;
  failures: number;
  /** suspended while set (the detector is detached) */
  retryAt?: number;
  /** on probation until then (the detector is attached again) */
  clearAt?: number;
}

/** A rule's content without its position: equal keys, equal behaviour. */
function ruleKey(r: ResolvedRule): string {
  return JSON.stringify([r.id, r.type, r.device, r.tags, r.category, r.severity, r.message, r.clear_message, r.response, r.review, r.params]);
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
  private timedDets: Detector[] = [];
  private readonly sink = new Collector();
  private readonly batch: SampleBatch = { samples: [], values: new Float64Array(128), at: new Int32Array(0), slots: new Int32Array(0), j: 0 };
  /** the device of the latest sample: a cycle's samples all come from one device */
  private lastDevice: DeviceEntry | undefined;
  private lastDeviceId = '';
  /** the device entry of every attached detector (suspended ones are not in it) */
  private readonly attached = new Map<Detector, DeviceEntry>();
  private failures: RuleFailure[] = [];
  private samples = 0;
  private evaluations = 0;
  private suspended = 0;

  /**
   * @param rules   the `rules:` list of the config (raw or already parsed by ruleBaseSchema)
   * @param devices the devices; only `id` and `tags[].name` are used
   * @param previous a live reload: rules that did not change keep their detector from this engine,
   *        with its state (raised conditions, hold times, learned identity), and every device keeps
   *        its latest values, so nothing is raised or cleared twice by the reload itself
   * @throws RuleConfigError listing every problem when a rule is invalid
   */
  constructor(rules: readonly unknown[], devices: readonly DeviceRef[], previous?: RuleEngine) {
    const { rules: resolved, issues } = compileRules(rules, devices);
    if (issues.length) throw new RuleConfigError(issues);
    for (const d of devices) {
      const names = d.tags.map((t) => t.name);
      const index = new Map(names.map((n, i) => [n, i]));
      const old = previous?.devs.get(d.id)?.values;
      const same = old !== undefined && old.names.length === names.length && old.names.every((n, i) => n === names[i]);
      const values: DeviceValues = same ? old : { names, index, values: new Float64Array(names.length).fill(NaN) };
      const tags = new Map<string, TagEntry>(names.map((n, i) => [n, { name: n, index: i, dets: [], slots: [], next: undefined }]));
      this.devs.set(d.id, { values, tags, facts: new Map(), cycle: [], troubled: [], last: undefined, order: [], plan: undefined });
    }
    this.rules = resolved.filter((r) => r.enabled);
    const reusable = previous?.reusableDetectors();
    for (const rule of this.rules) {
      const dev = this.devs.get(rule.device)!;
      const key = ruleKey(rule);
      const kept = reusable?.get(key);
      // A kept detector must read the very value array it was built with.
      if (kept && previous!.devs.get(rule.device)!.values === dev.values) {
        reusable!.delete(key);
        this.attach(dev, kept);
      } else {
        this.attach(dev, DETECTOR_TYPES.get(rule.type)!.create(rule, { device: dev.values }));
      }
    }
  }

  /** Attached detectors that never failed, by their rule's content (see ruleKey). */
  private reusableDetectors(): Map<string, Detector> {
    const out = new Map<string, Detector>();
    const troubled = new Set<Detector>();
    for (const d of this.devs.values()) for (const t of d.troubled) troubled.add(t.det);
    for (const det of this.attached.keys()) if (!troubled.has(det)) out.set(ruleKey(det.rule), det);
    return out;
  }

  /** Ids of the enabled rules whose detector was taken over from `previous` (live reload). */
  keptFrom(previous: RuleEngine): Set<string> {
    const old = new Set(previous.attached.keys());
    const out = new Set<string>();
    for (const det of this.attached.keys()) if (old.has(det)) out.add(det.rule.id);
    return out;
  }

  /** Judge one sample. The result is empty (and shared) unless a condition started or ended. */
  onSample(s: Sample): readonly Finding[] {
    // Two map lookups per sample were a good part of the cost: a cycle's samples come from one
    // device in the poller's fixed order, so the previous sample's device and tag entry predict them.
    let dev = this.lastDevice;
    if (dev === undefined || s.device !== this.lastDeviceId) {
      dev = this.devs.get(s.device);
      if (dev === undefined) return NONE;
      this.lastDevice = dev;
      this.lastDeviceId = s.device;
    }
    const prev = dev.last;
    let t = prev?.next;
    if (t === undefined || t.name !== s.tag) {
      t = dev.tags.get(s.tag);
      if (t === undefined) return NONE;
      if (prev !== undefined) prev.next = t;
    }
    dev.last = t;
    const v = numericValue(s);
    dev.values.values[t.index] = v;
    this.samples++;
    const dets = t.dets;
    const n = dets.length;
    if (n === 0) return NONE;
    this.evaluations += n;
    const slots = t.slots;
    const sink = this.sink;
    // One try around the loop (cheaper than one per detector); after a throw it goes on behind it.
    for (let i = 0; i < n; i++) {
      try {
        for (; i < n; i++) dets[i].onSample!(s, v, slots[i], sink);
      } catch (e) {
        this.failed(dets[i], e, s.ts, 'sample');
      }
    }
    return sink.take();
  }

  /**
   * Judge a poll cycle's samples, all of `device`, in the poller's order: each detector takes its
   * own samples in one call (onSamples), so the calls inside are monomorphic (one detector class
   * each) where onSample per sample calls five classes from one site. The result is what onSample
   * sample by sample would give: the same state, the same findings in the same order.
   */
  onSamples(device: string, samples: readonly Sample[]): readonly Finding[] {
    const dev = this.devs.get(device);
    if (dev === undefined) return this.oneByOne(samples);
    const cmp = compareOrder(dev.order, dev.tags, device, samples);
    if (cmp === 'foreign') return this.oneByOne(samples);
    if (cmp === 'new') {
      dev.order = samples.map((s) => dev.tags.get(s.tag) ?? null);
      dev.plan = undefined;
    }
    let plan = dev.plan;
    if (plan === undefined) plan = dev.plan = planBatch(dev.order);
    if (!plan.batchable) return this.oneByOne(samples);
    const n = samples.length;
    const b = this.batch;
    if (b.values.length < n) b.values = new Float64Array(Math.max(n, b.values.length * 2));
    const vals = b.values;
    const dv = dev.values.values;
    const order = dev.order;
    for (let i = 0; i < n; i++) {
      const v = numericValue(samples[i]);
      vals[i] = v;
      const t = order[i];
      if (t !== null) dv[t.index] = v;
    }
    this.samples += plan.known;
    this.evaluations += plan.evaluations;
    b.samples = samples;
    const sink = this.sink;
    sink.batch = b;
    const steps = plan.steps;
    for (let i = 0; i < steps.length; i++) {
      const st = steps[i];
      b.at = st.at;
      b.slots = st.slots;
      b.j = 0;
      sink.det = st.det;
      try {
        st.det.onSamples!(b, sink);
      } catch (e) {
        this.failed(st.det, e, samples[st.at[b.j]].ts, 'sample');
      }
    }
    sink.batch = null;
    b.samples = [];
    const found = sink.take();
    if (found.length > 1) sortInSampleOrder(found as Finding[], sink.from, dev.order);
    sink.from.length = 0;
    return found;
  }

  /** Samples one by one (another device's sample in the cycle, a detector that cannot batch). */
  private oneByOne(samples: readonly Sample[]): readonly Finding[] {
    let out: Finding[] | undefined;
    for (let i = 0; i < samples.length; i++) {
      const r = this.onSample(samples[i]);
      if (r.length > 0) (out ??= []).push(...r);
    }
    return out ?? NONE;
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
      for (const d of dets) {
        try {
          d.onFact!(f, this.sink);
        } catch (e) {
          this.failed(d, e, f.ts, 'fact');
        }
      }
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
    for (const d of this.timedDets) {
      try {
        d.onTime!(ts, this.sink);
      } catch (e) {
        this.failed(d, e, ts, 'time');
      }
    }
    return this.sink.take();
  }

  /**
   * Rules that were suspended, resumed or restored since the last call (usually none: a shared
   * empty array). Call it after each cycle; the agent turns them into signals, metrics and logs.
   */
  takeFailures(): readonly RuleFailure[] {
    if (this.failures.length === 0) return NO_FAILURES;
    const r = this.failures;
    this.failures = [];
    return r;
  }

  /** Samples judged and detector evaluations made so far (for metrics and the benchmark). */
  stats(): { samples: number; evaluations: number; rules: number; suspended: number } {
    return { samples: this.samples, evaluations: this.evaluations, rules: this.rules.length, suspended: this.suspended };
  }

  private runCycle(dev: DeviceEntry, ts: number): void {
    if (dev.troubled.length > 0) this.review(dev, ts);
    const c = dev.cycle;
    this.evaluations += c.length;
    for (let i = 0; i < c.length; i++) {
      try {
        c[i].onCycle!(ts, this.sink);
      } catch (e) {
        this.failed(c[i], e, ts, 'cycle');
      }
    }
  }

  /** Route a detector's inputs to it (new lists, see TagEntry). */
  private attach(dev: DeviceEntry, det: Detector): void {
    this.attached.set(det, dev);
    dev.plan = undefined;
    det.tags.forEach((t, slot) => {
      const e = dev.tags.get(t)!;
      e.dets = [...e.dets, det];
      e.slots = [...e.slots, slot];
    });
    for (const k of det.factKinds) dev.facts.set(k, [...(dev.facts.get(k) ?? []), det]);
    if (det.cycle) dev.cycle = [...dev.cycle, det];
    if (det.timed) this.timedDets = [...this.timedDets, det];
  }

  private detach(dev: DeviceEntry, det: Detector): void {
    this.attached.delete(det);
    dev.plan = undefined;
    for (const e of dev.tags.values()) {
      const keep = e.dets.map((d) => d !== det);
      if (keep.every(Boolean)) continue;
      e.dets = e.dets.filter((_, i) => keep[i]);
      e.slots = e.slots.filter((_, i) => keep[i]);
    }
    for (const [k, list] of dev.facts) if (list.includes(det)) dev.facts.set(k, list.filter((d) => d !== det));
    if (det.cycle) dev.cycle = dev.cycle.filter((d) => d !== det);
    if (det.timed) this.timedDets = this.timedDets.filter((d) => d !== det);
  }

  /** A detector threw: suspend it for its device (its other rules and other devices go on). */
  private failed(det: Detector, e: unknown, ts: number, during: RuleFailure['during']): void {
    const dev = this.attached.get(det);
    if (dev === undefined) return; // already suspended by an earlier call of the same loop
    this.detach(dev, det);
    const rule = det.rule;
    let t = dev.troubled.find((x) => x.det === det);
    if (t === undefined) {
      t = { det, failures: 0 };
      dev.troubled.push(t);
    }
    t.failures++;
    t.retryAt = ts + retryDelay(t.failures);
    t.clearAt = undefined;
    this.suspended++;
    this.failures.push({ state: 'suspended', rule: rule.id, type: rule.type, device: rule.device, ts, failures: t.failures, error: errorText(e), during, retry_at: t.retryAt });
  }

  /** At the end of a device's cycle: resume rules whose backoff is over, restore those through probation. */
  private review(dev: DeviceEntry, ts: number): void {
    for (const t of [...dev.troubled]) {
      const r = t.det.rule;
      const base = { rule: r.id, type: r.type, device: r.device, ts, failures: t.failures };
      if (t.retryAt !== undefined && ts >= t.retryAt) {
        // The same instance goes on, with the state it had: the alerts it raised can still clear.
        this.suspended--;
        t.retryAt = undefined;
        t.clearAt = ts + retryDelay(t.failures);
        this.attach(dev, t.det);
        this.failures.push({ state: 'resumed', ...base });
      } else if (t.clearAt !== undefined && ts >= t.clearAt) {
        dev.troubled.splice(dev.troubled.indexOf(t), 1);
        this.failures.push({ state: 'restored', ...base });
      }
    }
  }
}
