// Detector `stuck`: a value that stays within a band of width `tolerance` (0 = exactly unchanged) for
// longer than duration_ms, optionally only while `when` holds (the process is expected to move).
// Catches frozen or replayed readings: real analog signals always carry some noise.
import { z } from 'zod';
import type { Sample } from '../protocols/types.js';
import { checkExpr, defineDetector } from './detector.js';
import { allKnown, compileExpr, type CompiledExpr } from './expr/compile.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { roundValue } from './template.js';
import type { Detector, DetectorContext, FindingSink, ResolvedRule, SampleBatch } from './types.js';

const params = {
  duration_ms: z.number().int().positive().default(60_000).describe('How long the value may stay still'),
  tolerance: z.number().finite().min(0).default(0).describe('Peak-to-peak band the value must leave to count as moving (0 = any change)'),
  when: z.string().min(1).optional().describe('Expression over tags of the device; the check runs only while it holds, e.g. "pump == 1"'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{tag} has not moved from {observed} for {still_s} s (limit {duration_s} s)',
    clear_message: '{tag} moves again ({observed})',
    response: 'Compare with a local reading: a frozen value while the process runs points to a failed sensor or a replayed/spoofed reading.',
  },
};

class StuckDetector implements Detector {
  readonly factKinds = [] as const;
  readonly cycle = false;
  readonly timed = false;
  readonly tags: readonly string[];
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly since: Float64Array;
  private readonly active: Uint8Array;
  private readonly when: CompiledExpr | undefined;
  private readonly values: Float64Array;
  /** `when` reads other tags' values as they are at each sample: then the engine goes sample by sample */
  readonly onSamples: ((b: SampleBatch, out: FindingSink) => void) | undefined;

  constructor(
    readonly rule: ResolvedRule<Params>,
    ctx: DetectorContext,
  ) {
    const n = rule.tags.length;
    this.tags = rule.tags;
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.since = new Float64Array(n).fill(NaN);
    this.active = new Uint8Array(n);
    this.values = ctx.device.values;
    this.when = rule.params.when === undefined ? undefined : compileExpr(rule.params.when, ctx.device.index);
    this.onSamples = this.when === undefined ? this.batch : undefined;
  }

  /** onSample for each of the cycle's samples of this detector's tags (this class's own loop: see SampleBatch) */
  private batch(b: SampleBatch, out: FindingSink): void {
    const { samples, values, at, slots } = b;
    for (let j = 0; j < at.length; j++) {
      b.j = j;
      const k = at[j];
      this.onSample(samples[k], values[k], slots[j], out);
    }
  }

  onSample(s: Sample, v: number, slot: number, out: FindingSink): void {
    if (v !== v) return;
    const ts = s.ts;
    if (this.when !== undefined && !(allKnown(this.when, this.values) && this.when.eval(this.values) !== 0)) {
      this.restart(slot, v, ts, out); // not expected to move: start over once it is
      this.since[slot] = NaN;
      return;
    }
    const since = this.since[slot];
    if (since !== since || ts < since) {
      this.restart(slot, v, ts, out);
      return;
    }
    const lo = v < this.lo[slot] ? v : this.lo[slot];
    const hi = v > this.hi[slot] ? v : this.hi[slot];
    if (hi - lo > this.rule.params.tolerance) {
      this.restart(slot, v, ts, out);
      return;
    }
    this.lo[slot] = lo;
    this.hi[slot] = hi;
    if (this.active[slot] === 0 && ts - since > this.rule.params.duration_ms) {
      this.active[slot] = 1;
      out.push(this.finding(true, ts, slot, v, ts - since, hi - lo));
    }
  }

  private restart(slot: number, v: number, ts: number, out: FindingSink): void {
    const wasActive = this.active[slot] === 1;
    const still = ts - this.since[slot];
    this.lo[slot] = v;
    this.hi[slot] = v;
    this.since[slot] = ts;
    if (wasActive) {
      this.active[slot] = 0;
      out.push(this.finding(false, ts, slot, v, still, NaN));
    }
  }

  private finding(active: boolean, ts: number, slot: number, v: number, still: number, spread: number) {
    const p = this.rule.params;
    return makeFinding(this.rule, texts, {
      active,
      ts,
      tag: this.tags[slot],
      observed: roundValue(v),
      expected: active ? { moves_within_ms: p.duration_ms, tolerance: p.tolerance } : undefined,
      evidence: active ? { still_since: new Date(ts - still).toISOString(), still_ms: still, spread: roundValue(spread) } : { still_ms: still },
      vars: { still_s: Math.round(still / 1000), duration_s: p.duration_ms / 1000, tolerance: p.tolerance },
    });
  }
}

export const stuckType = defineDetector({
  type: 'stuck',
  description: 'Value unchanged (within tolerance) for longer than duration_ms, optionally only while `when` holds.',
  params,
  defaults: { category: 'anomaly', severity: 'medium' },
  texts,
  vars: ['still_s', 'duration_s', 'tolerance'],
  tagMode: 'tags',
  check: (p, device) => (p.when === undefined ? [] : checkExpr('when', p.when, device, p.id)),
  create: (rule, ctx) => new StuckDetector(rule, ctx),
});
