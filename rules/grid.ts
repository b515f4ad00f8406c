// Detector `grid`: a measurement that only ever takes values on a grid (ADC counts times a scale
// factor, setpoints entered with two decimals) must stay on it. A value between grid points did
// not come from the sensor or the HMI: an injected response or a script writing raw floats.
import { z } from 'zod';
import type { Sample } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { roundValue } from './template.js';
import type { Detector, FindingSink, ResolvedRule, SampleBatch } from './types.js';

/** Relative slack for values that went through a float32 register. */
export const FLOAT32_SLACK = 1e-6;

/**
 * Whether v is off the grid offset + n x step: farther from its nearest grid point than tolerance
 * (a share of step) plus a float32 register's rounding. A value between 0 and the first grid point
 * of a grid through 0 is off it unless it is 0 itself: n x step rounds to exactly 0 only for n = 0,
 * so 1e-30 is a random or mis-decoded register word, not the sensor's zero.
 */
export function offGrid(v: number, step: number, offset = 0, tolerance = 0.02): boolean {
  const k = (v - offset) / step;
  const n = Math.round(k);
  if (n === 0 && offset === 0 && v !== 0) return Math.abs(v) < step;
  return Math.abs(k - n) > tolerance + (FLOAT32_SLACK * Math.abs(v)) / step;
}

const params = {
  step: z.number().positive().describe('Grid spacing: values are offset + n x step'),
  offset: z.number().finite().default(0).describe('Grid origin'),
  tolerance: z.number().min(0).max(0.5).default(0.02).describe('Allowed distance from the nearest grid point, as a share of step'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{tag} = {observed} is not on its grid of {step} (nearest {nearest}): not a value the sensor or HMI produces',
    clear_message: '{tag} = {observed} is on its grid of {step} again',
    response: 'Compare with a local reading: an off-grid value comes from an injected response or a write by another program, not from the instrument.',
  },
};

class GridDetector implements Detector {
  readonly factKinds = [] as const;
  readonly cycle = false;
  readonly timed = false;
  readonly tags: readonly string[];
  private readonly active: Uint8Array;

  constructor(readonly rule: ResolvedRule<Params>) {
    this.tags = rule.tags;
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
    if (v !== v) return;
    const p = this.rule.params;
    const k = (v - p.offset) / p.step;
    const off = offGrid(v, p.step, p.offset, p.tolerance);
    if (off === (this.active[slot] === 1)) return;
    this.active[slot] = off ? 1 : 0;
    const nearest = p.offset + Math.round(k) * p.step;
    out.push(
      makeFinding(this.rule, texts, {
        active: off,
        ts: s.ts,
        tag: this.tags[slot],
        observed: roundValue(v),
        expected: { step: p.step, offset: p.offset },
        evidence: off ? { nearest: roundValue(nearest), off_by_steps: roundValue(Math.abs(k - Math.round(k))) } : undefined,
        vars: { step: p.step, nearest },
      }),
    );
  }
}

export const gridType = defineDetector({
  type: 'grid',
  description: 'A measurement must stay on its learned grid of values (resolution); off-grid values were not measured.',
  params,
  defaults: { category: 'anomaly', severity: 'medium' },
  texts,
  vars: ['step', 'nearest'],
  tagMode: 'tags',
  create: (rule) => new GridDetector(rule),
});

/**
 * The grid a set of values lies on, if any: the step from the smallest gaps between distinct
 * values, refined by least squares, and kept only when every value is within `tolerance` steps.
 */
export function findGrid(values: Float64Array, tolerance = 0.02): { step: number; points: number } | undefined {
  const v = Float64Array.from(new Set(values)).filter((x) => x === x).sort();
  if (v.length < 20) return undefined;
  const gaps: number[] = [];
  for (let i = 1; i < v.length; i++) gaps.push(v[i] - v[i - 1]);
  const min = Math.min(...gaps);
  const magnitude = Math.max(Math.abs(v[0]), Math.abs(v[v.length - 1]));
  if (!(min > 1e-6 * magnitude)) return undefined;
  const small = gaps.filter((g) => g <= 1.5 * min).sort((a, b) => a - b);
  let step = small[small.length >> 1];
  // Refine on ever larger values (the grid index of a large value is only known once the step
  // is accurate enough): least squares over |x| <= limit, the limit doubling each round.
  const byMagnitude = Float64Array.from(v).sort((a, b) => Math.abs(a) - Math.abs(b));
  for (let limit = 50 * step; ; limit *= 2) {
    let num = 0, den = 0;
    for (const x of byMagnitude) {
      if (Math.abs(x) > limit) break;
      const n = Math.round(x / step);
      num += n * x;
      den += n * n;
    }
    if (den > 0) step = num / den;
    if (limit >= magnitude) break;
  }
  if ((v[v.length - 1] - v[0]) / step > 1e6) return undefined;
  for (const x of v) {
    const k = x / step;
    if (Math.abs(k - Math.round(k)) > tolerance + (FLOAT32_SLACK * Math.abs(x)) / step) return undefined;
  }
  return { step, points: v.length };
}
