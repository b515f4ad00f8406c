// Learning on a window that is not clean: absurd or isolated readings, injected off-grid values, a
// scan's exception answers and an attack burst that writes a plausible value together with an odd
// one are left out of what is learned as normal, while a clean window learns the same bounds as
// before and a rare but real excursion close to the bulk stays in.
import { describe, expect, it } from 'vitest';
import type { Fact, Sample } from '../../protocols/types.js';
import { Learner } from '../../rules/learn/learner.js';
import { learnOptions } from '../../rules/learn/options.js';
import { robustGrid } from '../../rules/learn/grid.js';
import { rareEntries } from '../../rules/learn/robust.js';
import { holdsValues, revertedChanges } from '../../rules/learn/transients.js';
import { robustEnvelope, TagStats } from '../../rules/learn/stats.js';

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let a = seed;
  return () => (a = (a * 48271) % 2147483647) / 2147483647;
}

const O = learnOptions();
const env = (xs: number[]) => robustEnvelope(xs, { core: O.core_share, gap_factor: O.gap_factor, min_gap: 0, rare_share: O.rare_share });

describe('robustEnvelope', () => {
  it('leaves out absurd readings beyond a gap and keeps a clean distribution whole', () => {
    const r = rng(3);
    const clean = Array.from({ length: 5000 }, () => 10 + 5 * (r() + r() + r()));
    const e = env(clean);
    expect([e.lo, e.hi, e.below + e.above]).toEqual([Math.min(...clean), Math.max(...clean), 0]);
    const dirty = [...clean, 3.2e38, 2.9e38, 1.7e37, 1e-39];
    const d = env(dirty);
    expect(d.hi).toBe(Math.max(...clean));
    expect(d.above).toBe(3);
  });

  it('keeps a rare excursion no farther from the bulk than the bulk is wide', () => {
    const r = rng(5);
    const bulk = Array.from({ length: 8000 }, () => 60 + 30 * r());
    const excursion = Array.from({ length: 16 }, () => 104 + 2 * r());
    expect(env([...bulk, ...excursion]).hi).toBe(Math.max(...excursion));
  });
});

describe('robustGrid', () => {
  const stats = (col: Float64Array) => {
    const s = new TagStats();
    col.forEach((v, i) => s.add(v, i * 1000));
    s.settle(col, O);
    return s;
  };

  it('finds a two-decimal entry precision with a tenth of injected raw floats among the values', () => {
    const r = rng(11);
    const col = Float64Array.from({ length: 3000 }, (_, i) => (i % 10 === 0 ? 0.2 + 0.2 * r() : Math.round(20 + 20 * r()) / 100));
    expect(robustGrid(col, stats(col), O)!.step).toBeCloseTo(0.01, 10);
  });

  it('finds the grid with a fifth of the values junk words that decode to almost 0', () => {
    const r = rng(19);
    const col = Float64Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? 1e-39 * (1 + r()) : Math.round(87 * (5 + 20 * r())) / 87));
    expect(robustGrid(col, stats(col), O)!.step).toBeCloseTo(1 / 87, 8);
  });

  it('finds no grid in floats printed with ten significant digits', () => {
    const r = rng(13);
    const col = Float64Array.from({ length: 3000 }, () => Number((3 + 2 * r()).toPrecision(10)));
    expect(robustGrid(col, stats(col), O)).toBeUndefined();
  });
});

describe('learning a contaminated window', () => {
  const device = 'plc';
  const tags = ['level', 'setpoint', 'gain'];
  /** One poll: samples of the three tags, then diagnostics and link facts. */
  function poll(ts: number, v: number[], foreignExceptions: number, total: { exc: number; agent: number }): [Sample[], Fact[]] {
    total.exc += foreignExceptions;
    total.agent += 3;
    const samples = tags.map((tag, i) => ({ device, tag, value: v[i], quality: 'good' as const, ts, rtt_ms: 5 }));
    const facts: Fact[] = [
      { device, kind: 'diagnostics', ts, data: { bus_message_count: total.agent & 0xffff, server_message_count: total.agent & 0xffff, bus_comm_error_count: 0, bus_exception_error_count: total.exc & 0xffff, server_no_response_count: 0, agent_requests_total: total.agent, agent_exception_answers_total: 0 } },
      { device, kind: 'link', ts, data: { reachable: true, rtt_ms: 5, exception_codes: [], bad_responses: 0, consecutive_failures: 0 } },
    ];
    return [samples, facts];
  }

  function learn(attacks: boolean) {
    const r = rng(17);
    const learner = new Learner([{ id: device, tags: tags.map((name) => ({ name })) }]);
    const total = { exc: 0, agent: 0 };
    let sp = 10;
    let gain = 110;
    for (let i = 0; i < 20_000; i++) {
      if (i % 300 === 0) sp = Math.round(500 + 1500 * r()) / 100; // the operator's setpoints 5..20
      if (i % 500 === 0) gain = 110 + Math.floor(10 * r());
      let level = Math.round((sp + 2 * r()) * 87) / 87; // an ADC reading near the setpoint
      let setpoint = sp;
      let g = gain;
      let exc = 0;
      // every 2000 cycles an attack of 40 cycles: an absurd reading, a setpoint of 40 written with a
      // gain of 7.77 (off grid, rare), and a scan answered with exceptions
      if (attacks && i % 2000 >= 1000 && i % 2000 < 1040) {
        level = 3.2e38;
        setpoint = 40;
        g = 7.77;
        exc = 1;
      }
      const [samples, facts] = poll(1_000_000 + i * 1000, [level, setpoint, g], exc, total);
      learner.cycle({ device, samples, facts, skipped_cycles: 0 });
    }
    const rules = learner.result().rules.map((x) => x.rule);
    return { rule: (id: string) => rules.find((x) => x.id === `${device}.${id}`) };
  }

  it('learns about the bounds of the attack-free window from the window with attacks, and no scan as normal', () => {
    const clean = learn(false);
    const dirty = learn(true);
    // the same bounds but for the few normal cycles left out around each attack: within 5% of the span
    for (const id of ['level.range', 'setpoint.range']) {
      const c = clean.rule(id) as { min: number; max: number };
      const d = dirty.rule(id) as { min: number; max: number };
      const span = c.max - c.min;
      expect(Math.abs(d.min - c.min), `${id} min`).toBeLessThanOrEqual(0.05 * span);
      expect(Math.abs(d.max - c.max), `${id} max`).toBeLessThanOrEqual(0.05 * span);
    }
    expect(dirty.rule('level.range')!.max).toBeLessThan(30);
    expect(dirty.rule('setpoint.range')!.max).toBeLessThan(25);
    expect(dirty.rule('counters')).toMatchObject({ max_foreign_exceptions: 0 });
  });
});

describe('set-points and states undone within a short time', () => {
  const ts = Array.from({ length: 2000 }, (_, i) => i * 1000);
  it('a held value that left and came back within revert_ms is a transient; a kept change and a measurement are not', () => {
    const sp = Float64Array.from(ts, (_, i) => (i < 500 ? 10 : i < 530 ? 40 : i < 1200 ? 10 : 12));
    expect(holdsValues(sp)).toBe(true);
    expect(revertedChanges(sp, ts, 120_000)).toEqual(Array.from({ length: 30 }, (_, k) => 500 + k));
    // the same excursion held for 5 min is an operating change the operator later undid
    const long = Float64Array.from(ts, (_, i) => (i >= 500 && i < 800 ? 40 : 10));
    expect(revertedChanges(long, ts, 120_000)).toEqual([]);
    const level = Float64Array.from(ts, (_, i) => 5 + Math.sin(i / 30));
    expect(holdsValues(level)).toBe(false);
    expect(revertedChanges(level, ts, 120_000)).toEqual([]);
  });

  /**
   * An operator runs the pump only in mode 0 and holds each state for minutes; 30 times an attacker
   * writes mode 1 with the pump on, which the master overwrites 20 s later.
   */
  function learnStates(o: { revert_ms?: number }) {
    const device = 'plc';
    const learner = new Learner([{ id: device, tags: [{ name: 'mode' }, { name: 'pump' }, { name: 'flow' }] }], o);
    const r = rng(23);
    for (let i = 0; i < 36_000; i++) {
      const phase = Math.floor(i / 600) % 3; // 10 min each: mode 0 pump on, mode 0 pump off, mode 1 pump off
      let mode = phase === 2 ? 1 : 0;
      let pump = phase === 0 ? 1 : 0;
      if (i % 1200 >= 1000 && i % 1200 < 1020) (mode = 1), (pump = 1);
      const flow = pump ? 40 + r() : 0;
      const ts = 1_000_000 + i * 1000;
      learner.cycle({ device, skipped_cycles: 0, samples: [['mode', mode], ['pump', pump], ['flow', flow]].map(([tag, value]) => ({ device, tag: tag as string, value: value as number, quality: 'good' as const, ts, rtt_ms: 5 })), facts: [] });
    }
    return learner.result().rules.map((x) => x.rule);
  }

  it('states written only in such transients are not learned as normal: the invariant they break is', () => {
    const inv = (rules: Array<Record<string, unknown>>) => rules.find((x) => x.expr === 'mode == 1 implies pump == 0');
    expect(inv(learnStates({}))).toBeDefined();
    expect(inv(learnStates({ revert_ms: 0 }))).toBeUndefined();
  });
});

describe('ranges of set-points', () => {
  it('a set-point gets the full margin beyond the extremes entered (they are no floor), a measurement only its tolerance', () => {
    const device = 'plc';
    const learner = new Learner([{ id: device, tags: [{ name: 'setpoint' }, { name: 'level' }] }]);
    const r = rng(29);
    let sp = 10;
    for (let i = 0; i < 20_000; i++) {
      if (i % 1000 === 0) sp = [0.2, 0.3, 0.4][i / 1000 % 3]; // the operator's entries, each extreme in both halves
      const level = Math.max(0, Math.round(87 * 3 * r()) / 87 - 0.5); // sits on its floor 0 now and then
      const ts = 1_000_000 + i * 1000;
      learner.cycle({ device, skipped_cycles: 0, samples: [['setpoint', sp], ['level', level]].map(([tag, value]) => ({ device, tag: tag as string, value: value as number, quality: 'good' as const, ts, rtt_ms: 5 })), facts: [] });
    }
    const rules = learner.result().rules.map((x) => x.rule);
    const range = (tag: string) => rules.find((x) => x.id === `${device}.${tag}.range`) as { min: number; max: number };
    // margin 5% of the span (0.2) plus the tolerance (0.5% of 0.4)
    expect(range('setpoint').max).toBeCloseTo(0.4 + 0.05 * 0.2 + 0.005 * 0.4, 6);
    expect(range('setpoint').min).toBeCloseTo(0.2 - 0.05 * 0.2 - 0.005 * 0.4, 6);
    // the level's floor at 0, reached in both halves: twice the tolerance only
    expect(range('level').min).toBeGreaterThan(-0.05);
  });
});


describe('rare extreme entries of a set-point', () => {
  /**
   * The operator enters a set-point between 0 and 20 every 10 min (two decimals), and now and then
   * holds one for a minute only, 20.35 among them; an attacker writes 29 for 46 s and 32 for 27 s,
   * each time replaced by the operator's next entry.
   */
  function setpoints(): Float64Array {
    const r = rng(31);
    let sp = 10;
    return Float64Array.from({ length: 40_000 }, (_, i) => {
      if (i % 600 === 0) sp = Math.round(2000 * r()) / 100;
      if (i >= 20_000 && i < 20_060) return 20.35;
      if (i >= 30_000 && i < 30_046) return 29;
      if (i >= 35_000 && i < 35_027) return 32;
      return sp;
    });
  }

  it('are those far beyond the entries kept; a brief entry just beyond them is not', () => {
    expect([...rareEntries(setpoints(), O)].sort()).toEqual([29, 32]);
  });

  it('say nothing where one entry is nearly always in force', () => {
    const cycle = Float64Array.from({ length: 40_000 }, (_, i) => (i < 39_900 ? 0.9 : i < 39_950 ? 4.3 : 1.3));
    expect(rareEntries(cycle, O).size).toBe(0);
  });

  it('are left out of the range the learner writes', () => {
    const device = 'plc';
    const learner = new Learner([{ id: device, tags: [{ name: 'setpoint' }] }]);
    setpoints().forEach((value, i) => learner.cycle({ device, skipped_cycles: 0, samples: [{ device, tag: 'setpoint', value, quality: 'good', ts: 1_000_000 + i * 1000, rtt_ms: 5 }], facts: [] }));
    const range = learner.result().rules.find((x) => x.rule.id === 'plc.setpoint.range')?.rule as { max: number };
    expect(range.max).toBeGreaterThan(20.35);
    expect(range.max).toBeLessThan(23);
  });
});
