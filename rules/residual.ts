// Detector `residual`: a learned linear model predicts a tag from other tags of the same poll cycle
// and from earlier cycles; a capped two-sided CUSUM of the standardized prediction error raises
// when tag and model drift apart (a spoofed or replayed reading, a forced pump, a slowed drive:
// anything that breaks a physical relation that held while learning). Judged once per cycle.
import { z } from 'zod';
import { defineDetector, listNames } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { roundValue } from './template.js';
import type { Detector, DetectorContext, FindingSink, ResolvedRule, RuleIssue } from './types.js';

/** Most cycles a term may look back. */
export const MAX_LAG = 24;

const termSchema = z
  .object({
    tag: z.string().min(1).describe('Input tag of the model'),
    coef: z.number().finite().describe('Its coefficient'),
    lag: z.number().int().min(0).max(MAX_LAG).default(0).describe('0 = value of this cycle, 1 = of the previous cycle, ...'),
    times: z.string().min(1).optional().describe('Multiply by this tag of the same cycle as `tag` (a 0/1 state): a term that counts in one state only'),
  })
  .strict();

const params = {
  target: z.string().min(1).describe('Tag the model predicts'),
  intercept: z.number().finite().default(0).describe('Constant term of the model'),
  terms: z.array(termSchema).min(1, 'list at least one input term').describe('prediction = intercept + sum of coef x tag value'),
  sigma: z.number().positive().describe('Scale of a normal prediction error (learned, includes measurement tolerance)'),
  k: z.number().finite().min(0).default(1).describe('CUSUM allowance in sigmas: errors below k x sigma never accumulate'),
  h: z.number().positive().describe('CUSUM threshold in sigmas (learned: above anything seen while learning)'),
  cap: z.number().min(1).default(2).describe('The CUSUM is held at or below cap x h, so the condition clears soon after the data is normal'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{tag} = {observed} drifts from its learned relation to {inputs} (expected about {predicted}; drift {score} > {h})',
    clear_message: '{tag} = {observed} follows its learned relation to {inputs} again',
    response: 'Compare the tag and its inputs with local readings: a broken relation means a spoofed or replayed reading, a forced actuator or changed equipment.',
  },
};

class ResidualDetector implements Detector {
  readonly tags = [] as const;
  readonly factKinds = [] as const;
  readonly cycle = true;
  readonly timed = false;
  private readonly values: Float64Array;
  private readonly target: number;
  /** distinct input tags with lag >= 1, their device index, and their history ring */
  private readonly histIdx: Int32Array;
  private readonly hist: Float64Array;
  private readonly depth: number;
  private pos = 0;
  private filled = 0;
  /** per term: device index (lag 0) or history slot (lag >= 1); of its `times` tag, -1 without */
  private readonly termIdx: Int32Array;
  private readonly timesIdx: Int32Array;
  private readonly termLag: Int32Array;
  private readonly coef: Float64Array;
  private hi = 0;
  private lo = 0;
  private active = false;

  constructor(
    readonly rule: ResolvedRule<Params>,
    ctx: DetectorContext,
  ) {
    const p = rule.params;
    const index = ctx.device.index;
    this.values = ctx.device.values;
    this.target = index.get(p.target)!;
    const lagged = [...new Set(p.terms.filter((t) => t.lag > 0).flatMap((t) => (t.times ? [t.tag, t.times] : [t.tag])))];
    this.depth = Math.max(0, ...p.terms.map((t) => t.lag));
    this.histIdx = Int32Array.from(lagged, (t) => index.get(t)!);
    this.hist = new Float64Array(Math.max(1, this.depth * lagged.length)).fill(NaN);
    this.termIdx = Int32Array.from(p.terms, (t) => (t.lag === 0 ? index.get(t.tag)! : lagged.indexOf(t.tag)));
    this.timesIdx = Int32Array.from(p.terms, (t) => (t.times === undefined ? -1 : t.lag === 0 ? index.get(t.times)! : lagged.indexOf(t.times)));
    this.termLag = Int32Array.from(p.terms, (t) => t.lag);
    this.coef = Float64Array.from(p.terms, (t) => t.coef);
  }

  /** Value of history slot `slot` from `lag` cycles ago (1 = previous cycle). */
  private past(slot: number, lag: number): number {
    if (lag > this.filled) return NaN;
    const row = (this.pos - lag + 1 + this.depth) % this.depth; // pos holds the previous cycle
    return this.hist[row * this.histIdx.length + slot];
  }

  onCycle(ts: number, out: FindingSink): void {
    const v = this.values;
    const p = this.rule.params;
    let pred = p.intercept;
    for (let i = 0; i < this.coef.length; i++) {
      const lag = this.termLag[i];
      const x = lag === 0 ? v[this.termIdx[i]] : this.past(this.termIdx[i], lag);
      const t = this.timesIdx[i];
      pred += this.coef[i] * (t < 0 ? x : x * (lag === 0 ? v[t] : this.past(t, lag)));
    }
    const y = v[this.target];
    this.remember();
    if (pred !== pred || y !== y) return; // an input without a good value: cannot judge
    const z = (y - pred) / p.sigma;
    const ceiling = p.cap * p.h;
    this.hi = Math.min(ceiling, Math.max(0, this.hi + z - p.k));
    this.lo = Math.min(ceiling, Math.max(0, this.lo - z - p.k));
    const score = this.hi > this.lo ? this.hi : this.lo;
    if (!this.active && score > p.h) {
      this.active = true;
      out.push(this.finding(true, ts, y, pred, score));
    } else if (this.active && score <= p.h) {
      this.active = false;
      out.push(this.finding(false, ts, y, pred, score));
    }
  }

  /** Push this cycle's values of the lagged inputs into the history ring. */
  private remember(): void {
    if (this.depth === 0) return;
    this.pos = (this.pos + 1) % this.depth;
    const n = this.histIdx.length;
    for (let j = 0; j < n; j++) this.hist[this.pos * n + j] = this.values[this.histIdx[j]];
    if (this.filled < this.depth) this.filled++;
  }

  private finding(active: boolean, ts: number, y: number, pred: number, score: number) {
    const p = this.rule.params;
    const inputs = [...new Set(p.terms.map((t) => `${t.tag}${t.times ? ` x ${t.times}` : ''}${t.lag ? `[-${t.lag}]` : ''}`))].join(', ');
    return makeFinding(this.rule, texts, {
      active,
      ts,
      tag: p.target,
      observed: roundValue(y),
      expected: roundValue(pred),
      evidence: { predicted: roundValue(pred), error: roundValue(y - pred), sigma: p.sigma, drift: roundValue(score), h: p.h },
      vars: { inputs, predicted: pred, score, h: p.h },
    });
  }
}

export const residualType = defineDetector({
  type: 'residual',
  description: 'A learned linear relation between tags (with earlier cycles); a CUSUM of its error raises when it breaks.',
  params,
  defaults: { category: 'anomaly', severity: 'medium' },
  texts,
  vars: ['inputs', 'predicted', 'score', 'h'],
  tagMode: 'params',
  resolveTags(p, device) {
    const known = new Set(device.tags.map((t) => t.name));
    const issues: RuleIssue[] = [];
    const unknown = (name: string) => `unknown tag '${name}' on device '${device.id}'; known tags: ${listNames([...known])}`;
    if (!known.has(p.target)) issues.push({ path: 'target', message: unknown(p.target) });
    p.terms.forEach((t, i) => {
      if (!known.has(t.tag)) issues.push({ path: `terms[${i}].tag`, message: unknown(t.tag) });
      else if (t.tag === p.target && t.lag === 0) issues.push({ path: `terms[${i}].lag`, message: 'the target cannot predict itself in the same cycle; use lag 1 or more' });
      if (t.times !== undefined && !known.has(t.times)) issues.push({ path: `terms[${i}].times`, message: unknown(t.times) });
      else if (t.times === p.target && t.lag === 0) issues.push({ path: `terms[${i}].times`, message: 'the target cannot predict itself in the same cycle; use lag 1 or more' });
    });
    return { tags: [...new Set([p.target, ...p.terms.flatMap((t) => (t.times ? [t.tag, t.times] : [t.tag]))])], issues };
  },
  create: (rule, ctx) => new ResidualDetector(rule, ctx),
});
