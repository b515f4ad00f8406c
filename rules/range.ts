// Detector `range`: a tag's value must stay within [min, max]; optional hysteresis for clearing.
import { z } from 'zod';
import type { Sample } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { roundValue } from './template.js';
import type { Detector, FindingSink, ResolvedRule, SampleBatch } from './types.js';

const params = {
  min: z.number().finite().optional().describe('Lowest allowed value (inclusive)'),
  max: z.number().finite().optional().describe('Highest allowed value (inclusive)'),
  hysteresis: z.number().finite().min(0).default(0).describe('Clear only when the value is this far back inside the range'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{tag} = {observed} is outside the allowed range [{min}, {max}]',
    clear_message: '{tag} = {observed} is back within [{min}, {max}]',
    response: 'Compare the reading with a local gauge; if the process really left its range, follow the operating procedure; if not, suspect a spoofed or faulty sensor.',
  },
};

class RangeDetector implements Detector {
  readonly factKinds = [] as const;
  readonly cycle = false;
  readonly timed = false;
  readonly tags: readonly string[];
  private readonly lo: number;
  private readonly hi: number;
  private readonly loClear: number;
  private readonly hiClear: number;
  private readonly active: Uint8Array;

  constructor(readonly rule: ResolvedRule<Params>) {
    const p = rule.params;
    this.tags = rule.tags;
    this.lo = p.min ?? -Infinity;
    this.hi = p.max ?? Infinity;
    this.loClear = this.lo + p.hysteresis;
    this.hiClear = this.hi - p.hysteresis;
    this.active = new Uint8Array(rule.tags.length);
  }

  /** onSample for each of the cycle's samples of this detector's tags (this class's own loop: see SampleBatch) */
  onSamples(b: SampleBatch, out: FindingSink): void {
    const { samples, values, at, slots } = b;
    for (let j = 0; j < at.length; j++) {
      b.j = j;
      const k = at[j];
      this.onSample(samples[k], values[k], slots[j], out);
    }
  }

  onSample(s: Sample, v: number, slot: number, out: FindingSink): void {
    if (v !== v) return; // NaN: no usable value
    if (this.active[slot] === 0) {
      if (v < this.lo || v > this.hi) {
        this.active[slot] = 1;
        out.push(this.finding(true, s.ts, slot, v));
      }
    } else if (v >= this.loClear && v <= this.hiClear) {
      this.active[slot] = 0;
      out.push(this.finding(false, s.ts, slot, v));
    }
  }

  private finding(active: boolean, ts: number, slot: number, v: number) {
    const p = this.rule.params;
    return makeFinding(this.rule, texts, {
      active,
      ts,
      tag: this.tags[slot],
      observed: roundValue(v),
      expected: { min: p.min ?? null, max: p.max ?? null },
      vars: { min: p.min ?? '-inf', max: p.max ?? '+inf', hysteresis: p.hysteresis },
    });
  }
}

export const rangeType = defineDetector({
  type: 'range',
  description: 'Value of a tag must stay within min..max (hysteresis delays clearing).',
  params,
  defaults: { category: 'anomaly', severity: 'medium' },
  texts,
  vars: ['min', 'max', 'hysteresis'],
  tagMode: 'tags',
  check(p) {
    const issues = [];
    if (p.min === undefined && p.max === undefined) issues.push({ path: 'max', message: 'give min, max or both' });
    if (p.min !== undefined && p.max !== undefined) {
      if (p.min > p.max) issues.push({ path: 'max', message: `max (${p.max}) must not be below min (${p.min})` });
      else if (p.hysteresis * 2 > p.max - p.min) issues.push({ path: 'hysteresis', message: `hysteresis ${p.hysteresis} is more than half the range ${p.min}..${p.max}; the condition could never clear` });
    }
    return issues;
  },
  create: (rule) => new RangeDetector(rule),
});
