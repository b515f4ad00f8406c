// The expression language (parse errors with columns, evaluation) and the expression detector.
import { describe, expect, it } from 'vitest';
import { compileExpr } from '../../rules/expr/compile.js';
import { ExprError, MAX_EXPR_CHARS, MAX_EXPR_DEPTH, parseExpr } from '../../rules/expr/parse.js';
import { engine, link, sample, T0, TANK_TAGS } from './helpers.js';

const index = new Map(['a', 'b', 'c', 'pump', 'flow', 'flow-in', 'x.y'].map((n, i) => [n, i]));
function evalWith(src: string, vals: Record<string, number>): number {
  const c = compileExpr(src, index);
  const arr = new Float64Array(index.size).fill(NaN);
  for (const [k, v] of Object.entries(vals)) arr[index.get(k)!] = v;
  return c.eval(arr);
}

describe('expression language', () => {
  it.each([
    ['1 + 2 * 3', {}, 7],
    ['(1 + 2) * 3', {}, 9],
    ['-a + 10', { a: 3 }, 7],
    ['a - -b', { a: 3, b: 2 }, 5],
    ['10 / 4', {}, 2.5],
    ['abs(a - b)', { a: 3, b: 10 }, 7],
    ['min(a, b, 1) + max(a, b)', { a: 3, b: 10 }, 11],
    ['a == 1 and b != 2', { a: 1, b: 3 }, 1],
    ['a < 1 or b >= 2', { a: 1, b: 2 }, 1],
    ['not a', { a: 0 }, 1],
    ['not a == 1', { a: 1 }, 0],
    ['pump == 1 implies flow > 2', { pump: 1, flow: 3 }, 1],
    ['pump == 1 implies flow > 2', { pump: 1, flow: 0.5 }, 0],
    ['pump == 1 implies flow > 2', { pump: 0, flow: 0 }, 1],
    ['pump == true implies flow > 2', { pump: 1, flow: 0 }, 0],
    ['a implies b implies c', { a: 1, b: 1, c: 0 }, 0],
    ['a implies b implies c', { a: 1, b: 0, c: 0 }, 1],
    ['`flow-in` > 2 and x.y < 1', { 'flow-in': 3, 'x.y': 0 }, 1],
    ['1e3 > .5', {}, 1],
    ['a or b and c', { a: 1, b: 0, c: 0 }, 1],
    ['false or true', {}, 1],
  ])('%s = %s', (src, vals, want) => {
    expect(evalWith(src, vals as Record<string, number>)).toBe(want);
  });

  it.each([
    ['pump == 1 implies', 'expected a value (number, true, false, tag name, function or parenthesis), found end of expression at column 18'],
    ['(a + 1', "expected ')', found end of expression at column 7"],
    ['a + 1)', "expected an operator (== != < <= > >= + - * / and or implies), found ')' at column 6"],
    ['a = 1', "use == to compare, not '=' at column 3"],
    ['a && b', 'use and instead of && at column 3'],
    ['!a', "use 'not' instead of '!' at column 1"],
    ['a < b < c', 'comparisons do not chain; write a < b and b < c at column 7'],
    ['sqrt(a)', "unknown function 'sqrt' (use abs, min or max) at column 1"],
    ['abs(a, b)', 'abs() takes 1 argument, got 2 at column 1'],
    ['a $ b', "unexpected character '$' at column 3"],
    ['3pump', "unexpected 'p' after number 3 at column 2"],
    ['', 'empty expression at column 1'],
    ['pump == 1 implies flw > 2', "unknown tag 'flw' at column 19"],
    ['`flow', 'unclosed ` around a tag name at column 1'],
    ['a and', 'expected a value (number, true, false, tag name, function or parenthesis), found end of expression at column 6'],
  ])('error: %s', (src, msg) => {
    expect(() => parseExpr(src, new Set(index.keys()))).toThrow(ExprError);
    try {
      parseExpr(src, new Set(index.keys()));
    } catch (e) {
      expect((e as Error).message).toBe(msg);
    }
  });

  it('refuses nesting beyond the limit and overlong expressions with their code, never a stack overflow', () => {
    const tags = new Set(index.keys());
    const parens = (n: number) => `${'('.repeat(n)}flow${')'.repeat(n)} > 1`;
    expect(() => parseExpr(parens(MAX_EXPR_DEPTH), tags)).not.toThrow();
    expect(() => parseExpr(parens(MAX_EXPR_DEPTH + 1), tags)).toThrow(`nested deeper than the limit of ${MAX_EXPR_DEPTH} levels (parentheses, not, unary minus, function arguments, implies) at column ${MAX_EXPR_DEPTH + 1}`);
    // Deep enough to overflow the stack of a recursive parser; every form of nesting counts.
    for (const src of [parens(100_000).slice(0, MAX_EXPR_CHARS), `${'not '.repeat(1000)}pump`, `${'-'.repeat(4000)}flow > 0`, `${'pump implies '.repeat(300)}pump`, `${'abs('.repeat(500)}flow${')'.repeat(500)} > 1`]) {
      let err: unknown;
      try {
        parseExpr(src, tags);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ExprError);
      expect((err as ExprError).code).toBe('expr_too_deep');
    }
    const long = Array.from({ length: 1000 }, () => 'flow').join(' + ') + ' > 1';
    expect(() => parseExpr(long, tags)).toThrow(`${long.length} characters long, over the limit of ${MAX_EXPR_CHARS} at column ${MAX_EXPR_CHARS + 1}`);
    // a long flat chain within the limit is fine: no nesting, bounded by the length
    const chain = Array.from({ length: 500 }, () => 'flow').join(' + ') + ' > 1';
    expect(compileExpr(chain, index).eval(Float64Array.from(index.keys(), () => 1))).toBe(1);
  });

  it('never evaluates code', () => {
    expect(() => parseExpr('process.exit(1)', new Set())).toThrow(/unknown function|unknown tag/);
    expect(() => parseExpr("constructor('x')", new Set())).toThrow(ExprError);
  });
});

describe('expression detector', () => {
  const rule = { id: 'pumpflow', type: 'expression', device: 'tank1', expr: 'pump == 1 implies flow > 2' };
  function cycle(e: ReturnType<typeof engine>, i: number, pump: boolean, flow: number) {
    const ts = T0 + i * 1000;
    return [...e.onSample(sample('pump', pump, ts)), ...e.onSample(sample('flow', flow, ts + 3)), ...e.onFact(link(ts + 5))];
  }

  it('judges once per cycle, on the link fact, with values of the same cycle', () => {
    const e = engine([rule]);
    // pump turns on at cycle 1 while flow reads 0 in the same cycle... and would give a
    // transient violation if judged per sample; flow is 3 by the end of that cycle.
    const out = [...cycle(e, 0, false, 0), ...cycle(e, 1, true, 3), ...cycle(e, 2, true, 3.1), ...cycle(e, 3, true, 0.1), ...cycle(e, 4, true, 0.2), ...cycle(e, 5, false, 0)];
    expect(out.map((f) => `${f.active ? 'R' : 'C'}@${Math.round((f.ts - T0) / 1000)}`)).toEqual(['R@3', 'C@5']);
    expect(out[0]).toMatchObject({ category: 'anomaly', severity: 'medium', observed: { pump: 1, flow: 0.1 }, expected: 'pump == 1 implies flow > 2' });
    expect(out[0].message).toBe('tank1: pump == 1 implies flow > 2 does not hold (pump=1, flow=0.1)');
    expect(out[0].tag).toBeUndefined();
  });

  it('for_ms waits for the process to follow', () => {
    const e = engine([{ ...rule, for_ms: 2000 }]);
    const out = [...cycle(e, 0, true, 0), ...cycle(e, 1, true, 0), ...cycle(e, 2, true, 0), ...cycle(e, 3, true, 5)];
    expect(out.map((f) => f.active)).toEqual([true, false]);
    expect(out[0].ts).toBe(T0 + 2005);
  });

  it('does not judge with an unknown or bad-quality value', () => {
    const e = engine([rule]);
    const out = [...e.onSample(sample('pump', true, T0)), ...e.onFact(link(T0 + 1)), ...e.onSample(sample('flow', null, T0 + 2, 'tank1', 'bad')), ...e.onFact(link(T0 + 3))];
    expect(out).toEqual([]);
  });

  it('endCycle works without link facts (replays)', () => {
    const e = engine([rule]);
    e.onSample(sample('pump', 1, T0));
    e.onSample(sample('flow', 0, T0));
    expect(e.endCycle('tank1', T0)).toHaveLength(1);
    expect(e.endCycle('tank2', T0)).toEqual([]);
  });

  it('reads tag names with dashes in backticks', () => {
    const e = engine([{ id: 'fi', type: 'expression', device: 'tank1', expr: '`flow-in` <= 10' }]);
    e.onSample(sample('flow-in', 11, T0));
    expect(e.endCycle('tank1', T0)).toHaveLength(1);
    expect(TANK_TAGS).toContain('flow-in');
  });
});
