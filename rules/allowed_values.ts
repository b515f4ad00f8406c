// Detector `allowed_values`: a discrete tag (mode, state, enumeration) must hold one of a list of values.
import { z } from 'zod';
import type { Sample } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { scalarSchema } from './schema.js';
import { roundValue } from './template.js';
import type { Detector, FindingSink, ResolvedRule, SampleBatch } from './types.js';

const params = {
  values: z.array(scalarSchema).min(1, 'list at least one allowed value').describe('Allowed values; true/false match 1/0'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{tag} = {observed} is not an allowed value (allowed: {allowed})',
    clear_message: '{tag} = {observed} is an allowed value again',
    response: 'Ask the operator whether this state was set on purpose; if nobody did, treat it as an unauthorized command and check who can write to the controller.',
  },
};

class AllowedValuesDetector implements Detector {
  readonly factKinds = [] as const;
  readonly cycle = false;
  readonly timed = false;
  readonly tags: readonly string[];
  /** numbers (booleans as 1/0) and strings; Set.has on a primitive allocates nothing */
  private readonly allowed: Set<number | string>;
  private readonly active: Uint8Array;

  constructor(readonly rule: ResolvedRule<Params>) {
    this.tags = rule.tags;
    this.allowed = new Set(rule.params.values.map((x) => (typeof x === 'boolean' ? (x ? 1 : 0) : x)));
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
    let ok: boolean;
    if (v === v) ok = this.allowed.has(v);
    else if (typeof s.value === 'string' && s.quality === 'good') ok = this.allowed.has(s.value);
    else return;
    if (ok === (this.active[slot] === 0)) return; // no change
    this.active[slot] = ok ? 0 : 1;
    out.push(
      makeFinding(this.rule, texts, {
        active: !ok,
        ts: s.ts,
        tag: this.tags[slot],
        observed: roundValue(s.value),
        expected: this.rule.params.values,
        vars: { allowed: this.rule.params.values },
      }),
    );
  }
}

export const allowedValuesType = defineDetector({
  type: 'allowed_values',
  description: 'A discrete tag must hold one of the listed values.',
  params,
  defaults: { category: 'whitelist', severity: 'medium' },
  texts,
  vars: ['allowed'],
  tagMode: 'tags',
  create: (rule) => new AllowedValuesDetector(rule),
});
