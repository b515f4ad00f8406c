// Values a measurement only visits briefly: a constant injected over a pressure again and again
// (0 for a few seconds, then the real reading again) is not learned as a state the process keeps,
// while a flow that stops at 0 for minutes, a floor the level touches now and then, and the
// frequent values of a measurement that moves are.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../simulators/modbus/rng.js';
import { Learner } from '../../rules/learn/learner.js';
import { learnOptions } from '../../rules/learn/options.js';
import { briefValues, revertedChanges } from '../../rules/learn/transients.js';

/** Deterministic pseudo-random numbers in [0, 1) (the simulators' seeded generator). */
const rng = (seed: number): (() => number) => createRng(seed).next;

const O = learnOptions();
const N = 20_000;
const ts = Array.from({ length: N }, (_, i) => 1_000_000 + i * 1000);
const STEP = 1 / 87;
/** A pressure moving slowly between about 5 and 35 on its sensor's grid. */
const pressure = (i: number, r: () => number) => Math.round((20 + 15 * Math.sin(i / 900) + r()) / STEP) * STEP;

/** An injection of `value` for 4 to 12 s every 2 min (about 7% of the cycles). */
function injected(value: number, seed = 7): Float64Array {
  const r = rng(seed);
  let left = 0;
  return Float64Array.from(ts, (_, i) => {
    if (i % 120 === 60) left = 4 + Math.floor(9 * r());
    const real = pressure(i, r);
    return left-- > 0 ? value : real;
  });
}

describe('briefValues', () => {
  it('finds a constant the measurement keeps jumping to and leaving within seconds, 0 and -0 alike', () => {
    for (const value of [0, -0]) {
      const b = briefValues(injected(value), ts, O.revert_ms, O);
      expect(b.map((x) => x.value)).toEqual([0]);
      expect(b[0].visits).toBeGreaterThan(150);
      expect(b[0].median_visit_ms).toBeLessThan(15_000);
      expect(b[0].factor).toBeGreaterThanOrEqual(100);
    }
  });

  it('keeps a 0 the flow stays at for minutes (a stopped pump), and leaves every value of a moving measurement alone', () => {
    const r = rng(11);
    // the pump stops for 10 min every 30 min: 0 is a third of the cycles, each visit lasts 10 min
    const flow = Float64Array.from(ts, (_, i) => (i % 1800 < 600 ? 0 : pressure(i, r)));
    expect(briefValues(flow, ts, O.revert_ms, O)).toEqual([]);
    const moving = Float64Array.from(ts, (_, i) => pressure(i, r));
    expect(briefValues(moving, ts, O.revert_ms, O)).toEqual([]);
    // a level touching its floor now and then: the values just above it are about as frequent
    const level = Float64Array.from(ts, () => Math.max(0, Math.round(87 * 3 * r()) / 87 - 0.5));
    expect(briefValues(level, ts, O.revert_ms, O)).toEqual([]);
  });

  it('judges nothing with revert_ms 0, nor a tag that holds its values', () => {
    expect(briefValues(injected(0), ts, 0, O)).toEqual([]);
    const setpoint = Float64Array.from(ts, (_, i) => (i % 300 < 5 ? 0 : 12.5));
    expect(briefValues(setpoint, ts, O.revert_ms, O)).toEqual([]);
  });
});

describe('learning with an injected constant in the window', () => {
  function learn(values: Float64Array) {
    const device = 'plc';
    const learner = new Learner([{ id: device, tags: [{ name: 'pressure' }] }]);
    values.forEach((value, i) => learner.cycle({ device, skipped_cycles: 0, samples: [{ device, tag: 'pressure', value, quality: 'good', ts: ts[i], rtt_ms: 5 }], facts: [] }));
    return learner.result().rules.map((x) => x.rule);
  }

  it('writes a rule that raises on the constant, and learns range and rate without its jumps', () => {
    const rules = learn(injected(-0));
    expect(rules.find((x) => x.id === 'plc.pressure.transient')).toMatchObject({ type: 'expression', expr: 'pressure != 0' });
    const range = rules.find((x) => x.id === 'plc.pressure.range') as { min: number };
    expect(range.min).toBeGreaterThan(0);
    const rate = rules.find((x) => x.id === 'plc.pressure.rate') as { max_per_s: number };
    expect(rate.max_per_s).toBeLessThan(5);
  });

  it('writes no such rule for a flow that stops at 0 for minutes', () => {
    const r = rng(13);
    const rules = learn(Float64Array.from(ts, (_, i) => (i % 1800 < 600 ? 0 : pressure(i, r))));
    expect(rules.some((x) => x.id === 'plc.pressure.transient')).toBe(false);
  });
});

describe('values a set-point or state mostly spent in transients', () => {
  /**
   * A gain held at 110..119 for 20 min each; an attacker writes 66 for 10 s thirty times (the master
   * writes the gain back), and once for 5 min, after which the operator enters a new gain (120).
   */
  const gain = Float64Array.from(ts, (_, i) => {
    if (i >= 15_000 && i < 15_300) return 66;
    if (i >= 15_300 && i < 16_000) return 120;
    if (i < 15_000 && i % 500 >= 250 && i % 500 < 260) return 66;
    return 110 + (Math.floor(i / 1200) % 10);
  });

  it('a value mostly visited in undone writes is left out whole, also where one visit to it lasted', () => {
    const rows = new Set(revertedChanges(gain, ts, O.revert_ms));
    const at66 = [...gain.keys()].filter((i) => gain[i] === 66);
    expect(at66.length).toBe(600);
    expect(at66.every((i) => rows.has(i))).toBe(true);
    // the operator's values are kept, 120 included (it was not undone)
    expect([...rows].every((i) => gain[i] === 66)).toBe(true);
  });

  it('the learner does not allow such a value', () => {
    const device = 'plc';
    const learner = new Learner([{ id: device, tags: [{ name: 'gain' }] }]);
    gain.forEach((value, i) => learner.cycle({ device, skipped_cycles: 0, samples: [{ device, tag: 'gain', value, quality: 'good', ts: ts[i], rtt_ms: 5 }], facts: [] }));
    const values = learner.result().rules.find((x) => x.rule.id === 'plc.gain.values')?.rule.values as number[];
    expect(values).toEqual([110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120]);
  });
});
