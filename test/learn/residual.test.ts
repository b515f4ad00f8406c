// The `residual` detector and the model miner: a learned linear relation (with a lagged input)
// raises when the relation breaks, clears once it holds again, and rejects bad parameters; regime
// terms, change models, and thresholds that a rare odd episode in the window does not set.
import { describe, expect, it } from 'vitest';
import { AlertManager } from '../../rules/alerts/manager.js';
import { RuleEngine } from '../../rules/engine.js';
import { CycleJudge, type Cycle } from '../../rules/judge/index.js';
import { validateRules } from '../../rules/validate.js';
import { Learner } from '../../rules/learn/learner.js';
import { driftLevels } from '../../rules/learn/models.js';
import { learnOptions } from '../../rules/learn/options.js';
import { CycleTable } from '../../rules/learn/stats.js';
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

// A pump `a` whose flow `f` drops while a second pump `b` runs in parallel (f = 50 a - 14 a b), and
// a tank whose level integrates its inflow (a pump switched by the level) minus a varying outflow.
const plant = [{ id: 'p', tags: ['a', 'b', 'f', 'inflow', 'outflow', 'level'].map((name) => ({ name })) }];
type PlantRow = Record<'a' | 'b' | 'f' | 'inflow' | 'outflow' | 'level', number> & { ts: number };

function* plantRows(n: number, seed: number, odd?: (i: number, r: PlantRow) => void): Generator<PlantRow> {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  let level = 2;
  let pump = 0;
  for (let i = 0; i < n; i++) {
    const a = i % 40 < 25 ? 1 : 0;
    const b = i % 1000 >= 20 && i % 1000 < 30 ? 1 : 0; // rare episodes, half of them with a
    if (level < 1.5) pump = 1;
    if (level > 3.5) pump = 0;
    const inflow = pump * (20 + rnd());
    const outflow = 10 + 2 * Math.sin(i / 13) + 0.5 * rnd();
    level += 0.01 * (inflow - outflow);
    const r: PlantRow = { a, b, f: 50 * a - 14 * a * b + 2 * rnd(), inflow, outflow, level: level + 0.002 * rnd(), ts: T0 + i * 1000 };
    odd?.(i, r);
    yield r;
  }
}

function plantFeed(rows: Iterable<PlantRow>, rules: unknown[]): Finding[] {
  const out: Finding[] = [];
  const judge = new CycleJudge(new RuleEngine(rules, plant), new AlertManager(), { onFindings: (fs) => void out.push(...fs) });
  const tags = ['a', 'b', 'f', 'inflow', 'outflow', 'level'] as const;
  for (const r of rows) judge.judge({ device: 'p', samples: tags.map((tag) => ({ device: 'p', tag, value: r[tag], quality: 'good' as const, ts: r.ts, rtt_ms: 1 })), facts: [], skipped_cycles: 0, ts: r.ts });
  return out;
}

function plantRules(n: number, seed: number, odd?: (i: number, r: PlantRow) => void) {
  const learner = new Learner(plant, { invariants: false });
  for (const r of plantRows(n, seed, odd)) learner.cycle({ device: 'p', samples: (['a', 'b', 'f', 'inflow', 'outflow', 'level'] as const).map((tag) => ({ device: 'p', tag, value: r[tag], quality: 'good' as const, ts: r.ts, rtt_ms: 1 })), facts: [], skipped_cycles: 0, ts: r.ts });
  return learner.result().rules.filter((r) => r.rule.type === 'residual');
}

describe('residual regime terms and change models', () => {
  const regime = { id: 'r', type: 'residual', device: 'p', target: 'f', terms: [{ tag: 'a', coef: 50 }, { tag: 'a', times: 'b', coef: -14 }], sigma: 0.3, k: 1, h: 5 };

  it('a regime term counts only while both states are on', () => {
    const rows = (f: (i: number) => number): PlantRow[] => Array.from({ length: 20 }, (_, i) => ({ a: 1, b: i < 10 ? 0 : 1, f: f(i), inflow: 0, outflow: 0, level: 0, ts: T0 + i * 1000 }));
    expect(plantFeed(rows((i) => (i < 10 ? 50 : 36)), [regime])).toEqual([]);
    const fs = plantFeed(rows(() => 50), [regime]);
    expect(fs[0]).toMatchObject({ active: true, rule: 'r' });
    expect(fs[0].message).toContain('a x b');
    expect(validateRules([{ ...regime, terms: [{ tag: 'a', times: 'w', coef: 1 }] }], plant).map((i) => `${i.path}: ${i.message}`)).toEqual([
      "rules[0].terms[0].times: unknown tag 'w' on device 'p'; known tags: a, b, f, inflow, outflow, level",
    ]);
  });

  it('mines a regime term where episodes of two states together break the linear relation, quiet on new normal data', () => {
    const models = plantRules(4000, 5);
    const f = models.find((m) => m.rule.id === 'p.f.model')!;
    expect(f.rule.terms).toContainEqual({ tag: 'a', times: 'b', coef: expect.closeTo(-14, 0) });
    expect(plantFeed(plantRows(2000, 77), [f.rule])).toEqual([]);
    const slowed = plantFeed(plantRows(600, 77, (i, r) => void (i >= 500 && r.a === 1 && (r.f *= 0.7))), [f.rule]);
    expect(slowed[0]).toMatchObject({ active: true, rule: f.rule.id });
  });

  it("mines a tank level's change from its flows: a frozen level breaks it where the level model follows its own past", () => {
    const models = plantRules(4000, 5);
    const change = models.find((m) => m.rule.id === 'p.level.change')!;
    expect(change.rule.terms).toContainEqual({ tag: 'level', coef: 1, lag: 1 });
    expect((change.rule.terms as Array<{ tag: string }>).map((t) => t.tag)).toEqual(expect.arrayContaining(['inflow', 'outflow']));
    expect(change.evidence[0]).toMatch(/^level's change since the previous cycle from /);
    const rules = models.map((m) => m.rule);
    expect(plantFeed(plantRows(2000, 77), rules)).toEqual([]);
    let frozen = NaN;
    const fs = plantFeed(plantRows(700, 77, (i, r) => void (i >= 500 && (r.level = frozen = Number.isNaN(frozen) ? r.level : frozen))), rules);
    expect(fs.find((x) => x.active && x.rule === change.rule.id)).toBeDefined();
    expect(fs.filter((x) => x.active).every((x) => x.ts >= T0 + 500_000)).toBe(true);
  });

  // the drift of a model y = x over a window with gaussian-like errors, plus odd episodes
  const drift = (odd: number[]) => {
    const table = new CycleTable(['x', 'y'], 100_000);
    let sd = 9;
    const rnd = () => ((sd = (sd * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
    for (let i = 0; i < 20_000; i++) {
      const e = rnd() + rnd() + rnd() + rnd(); // about normal, sd 0.58
      table.add(Float64Array.of(0, e + (odd.some((at) => i >= at && i < at + 5) ? 6 : 0)), T0 + i * 1000);
    }
    return driftLevels(table, { target: 'y', intercept: 0, terms: [{ tag: 'x', coef: 1, lag: 0 }], sigma: 0.58, k: 0.5 }, learnOptions());
  };

  it('a rare odd episode in the learning window does not set the threshold; many are a regime', () => {
    const clean = drift([]);
    const one = drift([12_000]);
    expect(one.max).toBeGreaterThan(3 * clean.max);
    expect(one).toMatchObject({ left_out: 1, regime: false });
    expect(one.usual).toBeLessThanOrEqual(clean.max);
    const many = drift([2000, 5000, 8000, 11_000, 14_000, 17_000]);
    expect(many).toMatchObject({ left_out: 0, regime: true, usual: many.max });
  });
});
