// Detector `identity`: the device identification (Modbus FC43 vendor/product/revision, OPC UA
// BuildInfo) must match the approved one; without `expected`, the first answer seen is trusted.
import { z } from 'zod';
import type { Fact } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import type { Detector, FindingSink, ResolvedRule } from './types.js';

const IDENTITY_FIELDS = ['vendor', 'product_code', 'revision', 'product_name', 'model_name'] as const;
type Field = (typeof IDENTITY_FIELDS)[number];

const params = {
  expected: z
    .object(Object.fromEntries(IDENTITY_FIELDS.map((f) => [f, z.union([z.string(), z.number()]).optional()])) as Record<Field, z.ZodOptional<z.ZodUnion<[z.ZodString, z.ZodNumber]>>>)
    .strict()
    .refine((o) => Object.values(o).some((v) => v !== undefined), 'give at least one of vendor, product_code, revision, product_name, model_name')
    .optional()
    .describe('Approved identity; omitted: the first identity read is trusted (trust on first use)'),
  fields: z
    .array(z.enum(IDENTITY_FIELDS))
    .min(1)
    .default(['vendor', 'product_code', 'revision'])
    .describe('Fields compared when expected is omitted'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{device} identity changed: {changes}',
    clear_message: '{device} identity matches the approved one again',
    response: 'Ask whether the controller was replaced or its firmware updated under a change order; if not, isolate it and verify the firmware image with the vendor.',
  },
};

class IdentityDetector implements Detector {
  readonly tags = [] as const;
  readonly factKinds = ['identity'] as const;
  readonly cycle = false;
  readonly timed = false;
  private expected: Partial<Record<Field, string>> | undefined;
  private active = false;

  constructor(readonly rule: ResolvedRule<Params>) {
    const e = rule.params.expected;
    if (e) this.expected = Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
  }

  onFact(f: Fact, out: FindingSink): void {
    const seen = (k: Field): string | undefined => (f.data[k] === undefined || f.data[k] === null ? undefined : String(f.data[k]));
    if (this.expected === undefined) {
      const learned: Partial<Record<Field, string>> = {};
      for (const k of this.rule.params.fields) learned[k] = seen(k);
      this.expected = learned;
      return;
    }
    const changes: string[] = [];
    const observed: Record<string, string | null> = {};
    for (const [k, want] of Object.entries(this.expected) as [Field, string | undefined][]) {
      const got = seen(k);
      observed[k] = got ?? null;
      if (got !== want) changes.push(`${k} ${want ?? '(none)'} -> ${got ?? '(none)'}`);
    }
    const bad = changes.length > 0;
    if (bad === this.active) return;
    this.active = bad;
    out.push(
      makeFinding(this.rule, texts, {
        active: bad,
        ts: f.ts,
        observed,
        expected: { ...this.expected },
        evidence: bad ? { changes, learned: this.rule.params.expected === undefined } : undefined,
        vars: { changes: changes.join(', ') },
      }),
    );
  }
}

export const identityType = defineDetector({
  type: 'identity',
  description: 'Device identification (vendor, product code, revision) must match the approved one.',
  params,
  defaults: { category: 'identity', severity: 'high' },
  texts,
  vars: ['changes'],
  tagMode: 'none',
  create: (rule) => new IdentityDetector(rule),
});
