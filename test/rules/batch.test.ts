// A cycle's samples judged in one batch (RuleEngine.onSamples: each detector over its own samples)
// must give exactly what onSample sample by sample gives: the same findings in the same order, the
// same failures and counts, whatever the rules, the order of the samples or a detector that throws.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rangeType } from '../../rules/range.js';
import type { RuleEngine } from '../../rules/engine.js';
import type { Detector, Finding } from '../../rules/types.js';
import type { Sample } from '../../protocols/types.js';
import { engine, sample, T0 } from './helpers.js';

const RULES = [
  { id: 'range', type: 'range', device: 'tank1', tags: ['level', 'flow', 'temp'], min: 0, max: 50 },
  { id: 'range-hh', type: 'range', device: 'tank1', tags: ['level', 'temp'], max: 40, hysteresis: 2 },
  { id: 'rate', type: 'rate', device: 'tank1', tags: ['level', 'flow'], max_per_s: 15, hold_ms: 2000 },
  { id: 'changes', type: 'rate', device: 'tank1', tags: ['level', 'mode'], max_changes: 2, window_ms: 5000 },
  { id: 'stuck', type: 'stuck', device: 'tank1', tags: ['temp'], duration_ms: 3000 },
  { id: 'modes', type: 'allowed_values', device: 'tank1', tag: 'mode', values: [0, 1] },
  { id: 'config', type: 'integrity', device: 'tank1', baseline: { sp_level: 10 } },
  { id: 'range2', type: 'range', device: 'tank2', tag: 'level', max: 5 },
];

/** A cycle of tank1 at second i: values that cross limits, jump, freeze and toggle now and then. */
function cycleSamples(i: number, order: readonly string[]): Sample[] {
  const ts = T0 + i * 1000;
  const v: Record<string, Sample['value']> = {
    level: [10, 45, 60, 30, 30, 10, -5, 10][i % 8],
    flow: i % 5 === 0 ? 90 : 20 + (i % 3),
    temp: i < 10 ? 20 : i % 7 === 0 ? 45 : 30,
    mode: i % 4 === 0 ? 2 : i % 2,
    sp_level: i % 9 === 5 ? 12 : 10,
    pump: 1,
  };
  return order.map((tag) => sample(tag, v[tag] ?? null, ts));
}

const ORDER = ['level', 'flow', 'temp', 'mode', 'sp_level', 'pump'];
const REORDERED = ['mode', 'temp', 'nope', 'level', 'sp_level', 'flow'];

/** Both ways over the same cycles: findings per cycle, failures and counts. */
function both(rules: unknown[], cycles: Sample[][]) {
  const run = (batch: boolean) => {
    const e: RuleEngine = engine(rules);
    const found: Finding[][] = [];
    const failures: unknown[] = [];
    for (const c of cycles) {
      found.push(batch ? [...e.onSamples(c[0].device, c)] : c.flatMap((s) => [...e.onSample(s)]));
      failures.push(...e.takeFailures());
    }
    return { found, failures, stats: e.stats() };
  };
  return { one: run(false), batch: run(true) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('batch of a cycle', () => {
  it('gives the findings of sample-by-sample judging, in the same order, as the order of the samples changes', () => {
    const cycles = Array.from({ length: 40 }, (_, i) => cycleSamples(i, i >= 20 && i < 30 ? REORDERED : ORDER));
    const { one, batch } = both(RULES, cycles);
    const all = one.found.flat();
    // The stream does raise and clear conditions, several on one sample: the order is tested.
    expect(all.filter((f) => f.active).length).toBeGreaterThan(10);
    expect(all.filter((f) => !f.active).length).toBeGreaterThan(5);
    expect(one.found.some((fs) => new Set(fs.map((f) => f.ts)).size < fs.length)).toBe(true);
    expect(batch.found).toEqual(one.found);
    expect(batch.stats).toEqual(one.stats);
  });

  it('goes sample by sample for a stuck rule with `when` (it reads other tags mid-cycle) and for a cycle with another device', () => {
    const rules = [...RULES, { id: 'stuck-when', type: 'stuck', device: 'tank1', tags: ['pump'], duration_ms: 2000, when: 'temp > 25' }];
    const cycles = Array.from({ length: 30 }, (_, i) => cycleSamples(i, ORDER));
    cycles[12].push(sample('level', 9, T0 + 12_000, 'tank2'));
    const { one, batch } = both(rules, cycles);
    expect(one.found.flat().some((f) => f.rule === 'stuck-when')).toBe(true);
    expect(one.found.flat().some((f) => f.rule === 'range2')).toBe(true);
    expect(batch.found).toEqual(one.found);
    expect(batch.stats).toEqual(one.stats);
  });

  it('suspends a detector that throws mid-batch at the sample it threw on; the others judge the whole cycle', () => {
    const create = rangeType.create;
    vi.spyOn(rangeType, 'create').mockImplementation((rule, ctx) => {
      const det: Detector = create(rule, ctx);
      const onSample = det.onSample!.bind(det);
      return Object.assign(Object.create(det) as Detector, {
        onSample: (...a: Parameters<typeof onSample>) => {
          if (a[0].tag === 'temp' && a[1] >= 45) throw new RangeError('bad input');
          onSample(...a);
        },
      });
    });
    const cycles = Array.from({ length: 30 }, (_, i) => cycleSamples(i, ORDER));
    const { one, batch } = both(RULES, cycles);
    expect(one.failures.length).toBeGreaterThan(0);
    expect(batch.failures).toEqual(one.failures);
    expect(batch.found).toEqual(one.found);
    expect(batch.stats).toEqual(one.stats);
  });
});
