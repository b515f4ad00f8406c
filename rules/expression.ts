// Detector `expression`: an invariant across tags of one device, e.g. `pump == 1 implies flow > 2`,
// judged at the end of each poll cycle (so all tags are from the same cycle). Safe parser, no eval.
import { z } from 'zod';
import { checkExpr, defineDetector } from './detector.js';
import { allKnown, compileExpr, type CompiledExpr } from './expr/compile.js';
import { ExprError, parseExpr, tagRefs } from './expr/parse.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { roundValue } from './template.js';
import type { Detector, DetectorContext, FindingSink, ResolvedRule } from './types.js';

const params = {
  expr: z.string().min(1).describe('Condition that must hold, e.g. "pump == 1 implies flow > 2"'),
  for_ms: z.number().int().min(0).default(0).describe('Raise only when the condition has been false this long (process delays)'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{device}: {expr} does not hold ({values})',
    clear_message: '{device}: {expr} holds again ({values})',
    response: 'Check the equipment the invariant ties together (e.g. pump feedback and flow); a mismatch means a failed device, a spoofed reading or a forced output.',
  },
};

class ExpressionDetector implements Detector {
  readonly tags = [] as const;
  readonly factKinds = [] as const;
  readonly cycle = true;
  readonly timed = false;
  private readonly c: CompiledExpr;
  private readonly values: Float64Array;
  private falseSince = NaN;
  private active = false;

  constructor(
    readonly rule: ResolvedRule<Params>,
    ctx: DetectorContext,
  ) {
    this.c = compileExpr(rule.params.expr, ctx.device.index);
    this.values = ctx.device.values;
  }

  onCycle(ts: number, out: FindingSink): void {
    if (!allKnown(this.c, this.values)) return; // a tag without a good value: cannot judge
    const r = this.c.eval(this.values);
    if (r !== r) return;
    if (r !== 0) {
      this.falseSince = NaN;
      if (this.active) {
        this.active = false;
        out.push(this.finding(false, ts, 0));
      }
      return;
    }
    if (this.falseSince !== this.falseSince) this.falseSince = ts;
    if (!this.active && ts - this.falseSince >= this.rule.params.for_ms) {
      this.active = true;
      out.push(this.finding(true, ts, ts - this.falseSince));
    }
  }

  private finding(active: boolean, ts: number, falseFor: number) {
    const values: Record<string, unknown> = {};
    this.c.tags.forEach((t, i) => (values[t] = roundValue(this.values[this.c.indices[i]])));
    return makeFinding(this.rule, texts, {
      active,
      ts,
      observed: values,
      expected: this.rule.params.expr,
      evidence: active ? { false_for_ms: falseFor } : undefined,
      vars: { expr: this.rule.params.expr, values },
    });
  }
}

export const expressionType = defineDetector({
  type: 'expression',
  description: 'Invariant across tags of one device, judged once per poll cycle.',
  params,
  defaults: { category: 'anomaly', severity: 'medium' },
  texts,
  vars: ['expr', 'values'],
  tagMode: 'params',
  resolveTags(p, device) {
    const issues = checkExpr('expr', p.expr, device, p.id);
    if (issues.length > 0) return { tags: [], issues };
    try {
      return { tags: [...new Set(tagRefs(parseExpr(p.expr)).map((t) => t.name))], issues };
    } catch (e) {
      if (e instanceof ExprError) return { tags: [], issues: [{ path: 'expr', message: e.message }] };
      throw e;
    }
  },
  create: (rule, ctx) => new ExpressionDetector(rule, ctx),
});
