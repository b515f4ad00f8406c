// The `residual` detector and the model miner: a learned linear relation (with a lagged input)
// raises when the relation breaks, clears once it holds again, and rejects bad parameters.
import { describe, expect, it } from 'vitest';
import { AlertManager } from '../../rules/alerts/manager.js';
import { RuleEngine } from '../../rules/engine.js';
import { CycleJudge, type Cycle } from '../../rules/judge/index.js';
import { validateRules } from '../../rules/validate.js';
import { Learner } from '../../rules/learn/learner.js';
import type { Finding } from '../../rules/types.js';
import { T0 } from '../rules/helpers.js';

const devices = [{ id: 'd', tags: [{ name: 'x' }, { name: 'y' }, { name: 'z' }] }];

/** y follows 2x + 1 of the previous cycle; z is noise. */
function* process(n: number, seed: number, broken?: (i: number) => number): Generator<{ x: number; y: number; z: number; ts: number }> {
  let a = seed;
  const rnd = () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  let prevX = 0;
  for (let i = 0; i < n; i++) {
    const x = 10 + 5 * Math.sin(i / 7) + rnd();
    const y = 2 * prevX + 1 + 0.05 * rnd() + (broken?.(i) ?? 0);
    prevX = x;
    yield { x, y, z: rnd(), ts: T0 + i * 1000 };
  }
}

/** One row as a poll cycle of device d (no link fact: the cycle ends with the row). */
function cycle(r: { x: number; y: number; z: number; ts: number }): Cycle {
  return { device: 'd', samples: (['x', 'y', 'z'] as const).map((tag) => ({ device: 'd', tag, value: r[tag], quality: 'good' as const, ts: r.ts, rtt_ms: 1 })), facts: [], skipped_cycles: 0, ts: r.ts };
}

/** The findings of the rules over the rows, judged cycle by cycle as the agent does. */
function feed(rows: Iterable<{ x: number; y: number; z: number; ts: number }>, rules: unknown[]): Finding[] {
  const out: Finding[] = [];
  const judge = new CycleJudge(new RuleEngine(rules, devices), new AlertManager(), { onFindings: (fs) => void out.push(...fs) });
  for (const r of rows) judge.judge(cycle(r));
  return out;
}

describe('residual detector', () => {
  const rule = { id: 'm', type: 'residual', device: 'd', target: 'y', intercept: 1, terms: [{ tag: 'x', coef: 2, lag: 1 }], sigma: 0.05, k: 1, h: 8 };

  it('stays quiet while the relation holds, raises when it breaks, clears after', () => {
    const fs = feed(process(200, 3, (i) => (i >= 100 && i < 120 ? 0.5 : 0)), [rule]);
    expect(fs.map((f) => `${f.active ? 'R' : 'C'}@${(f.ts - T0) / 1000}`)).toEqual(['R@100', expect.stringMatching(/^C@1[23]\d$/)]);
    expect(fs[0].evidence).toMatchObject({ sigma: 0.05, h: 8 });
    expect(fs[0].message).toMatch(/^y = .* drifts from its learned relation to x\[-1\]/);
  });

  it('judges nothing before the lagged input has a value, or while an input is missing', () => {
    const e = new RuleEngine([rule], devices);
    expect(e.onSample({ device: 'd', tag: 'y', value: 100, quality: 'good', ts: T0, rtt_ms: 1 })).toEqual([]);
    expect(e.endCycle('d', T0)).toEqual([]);
    expect(e.endCycle('d', T0 + 1000)).toEqual([]);
  });

  it('rejects unknown tags and a target that predicts itself', () => {
    const issues = validateRules([{ ...rule, terms: [{ tag: 'w', coef: 1 }, { tag: 'y', coef: 1 }] }], devices);
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "rules[0].terms[0].tag: unknown tag 'w' on device 'd'; known tags: x, y, z",
      'rules[0].terms[1].lag: the target cannot predict itself in the same cycle; use lag 1 or more',
    ]);
    expect(validateRules([{ ...rule, sigma: 0 }], devices).map((i) => i.path)).toEqual(['rules[0].sigma']);
  });

  it('is mined from data: y from x of the previous cycle, quiet on new normal data, loud on a broken relation', () => {
    const learner = new Learner(devices, { invariants: false });
    for (const r of process(2000, 11)) learner.cycle(cycle(r));
    const models = learner.result().rules.filter((r) => r.rule.type === 'residual');
    const y = models.find((m) => m.rule.target === 'y')!;
    expect(y.rule.terms).toEqual([{ tag: 'x', coef: expect.closeTo(2, 1), lag: 1 }]);
    expect(y.evidence[0]).toMatch(/^y from x\[-1\]: error scale [\d.]+ \(explains [\d.]+% of its variation\) over 1999 cycles/);
    expect(models.find((m) => m.rule.target === 'z')).toBeUndefined(); // noise explains nothing
    expect(feed(process(1000, 99), [y.rule])).toEqual([]);
    const broken = feed(process(300, 99, (i) => (i >= 200 ? 1.5 : 0)), [y.rule]);
    expect(broken[0]).toMatchObject({ active: true, rule: y.rule.id });
    expect((broken[0].ts - T0) / 1000).toBeLessThan(205);
  });
});
