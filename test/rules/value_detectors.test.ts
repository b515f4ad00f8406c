// Table tests of the per-tag value detectors: range, allowed_values, rate, stuck.
import { describe, expect, it } from 'vitest';
import { engine, feed, marks, sample, T0 } from './helpers.js';

const base = { device: 'tank1', tag: 'level' };

describe('range', () => {
  const cases: Array<[string, Record<string, unknown>, (number | boolean | null)[], string[]]> = [
    ['inside stays silent', { min: 0, max: 5 }, [1, 2, 3, 4.99, 0], []],
    ['above max raises once, clears inside', { min: 0, max: 5 }, [4, 5.1, 6, 7, 4], ['R@1', 'C@4']],
    ['bounds are inclusive', { min: 0, max: 5 }, [0, 5, 5, 0], []],
    ['below min', { min: 1 }, [2, 0.5, 0.2, 1], ['R@1', 'C@3']],
    ['max only', { max: 10 }, [-100, 11, 9], ['R@1', 'C@2']],
    ['hysteresis delays clearing', { min: 0, max: 5, hysteresis: 0.5 }, [6, 4.8, 4.6, 4.4], ['R@0', 'C@3']],
    ['hysteresis on the low side', { min: 1, max: 5, hysteresis: 0.5 }, [0, 1.2, 1.5], ['R@0', 'C@2']],
    ['null and bad quality are skipped', { min: 0, max: 5 }, [null, 7, null, 3], ['R@1', 'C@3']],
    ['booleans count as 1/0', { max: 0.5 }, [false, true, false], ['R@1', 'C@2']],
  ];
  it.each(cases)('%s', (_n, p, values, want) => {
    const e = engine([{ id: 'r', type: 'range', ...base, ...p }]);
    expect(marks(feed(e, 'level', values))).toEqual(want);
  });

  it('renders the default message and fills the finding', () => {
    const e = engine([{ id: 'lvl', type: 'range', ...base, min: 0, max: 5 }]);
    const [f] = feed(e, 'level', [5.5000000123]);
    expect(f).toMatchObject({ rule: 'lvl', device: 'tank1', tag: 'level', category: 'anomaly', severity: 'medium', active: true, ts: T0, observed: 5.5, expected: { min: 0, max: 5 } });
    expect(f.message).toBe('level = 5.5 is outside the allowed range [0, 5]');
    expect(f.response.length).toBeGreaterThan(10);
  });

  it('uses the rule message, category and severity when given', () => {
    const e = engine([{ id: 'lvl', type: 'range', ...base, max: 5, severity: 'critical', category: 'whitelist', message: 'HIGH {tag} {observed} > {max} ({rule})' }]);
    const [f] = feed(e, 'level', [9]);
    expect(f).toMatchObject({ severity: 'critical', category: 'whitelist', message: 'HIGH level 9 > 5 (lvl)' });
  });

  it('keeps one state per tag of a tags list', () => {
    const e = engine([{ id: 'r', type: 'range', device: 'tank1', tags: ['temp', 'pressure'], max: 10 }]);
    const out = [...e.onSample(sample('temp', 11, T0)), ...e.onSample(sample('pressure', 5, T0)), ...e.onSample(sample('pressure', 12, T0 + 1)), ...e.onSample(sample('temp', 11, T0 + 2))];
    expect(out.map((f) => `${f.tag}:${f.active}`)).toEqual(['temp:true', 'pressure:true']);
  });

  it('ignores other devices and unknown tags', () => {
    const e = engine([{ id: 'r', type: 'range', ...base, max: 1 }]);
    expect(e.onSample(sample('level', 9, T0, 'tank2'))).toEqual([]);
    expect(e.onSample(sample('nope', 9, T0))).toEqual([]);
    expect(e.onSample({ ...sample('level', 9, T0), device: 'ghost' })).toEqual([]);
  });

  it('skips disabled rules', () => {
    const e = engine([{ id: 'r', type: 'range', ...base, max: 1, enabled: false }]);
    expect(feed(e, 'level', [9])).toEqual([]);
    expect(e.rules).toHaveLength(0);
  });
});

describe('allowed_values', () => {
  const cases: Array<[string, unknown[], (number | boolean | string | null)[], string[]]> = [
    ['allowed modes are silent', [0, 1], [0, 1, 1, 0], []],
    ['maintenance mode raises, clears on auto', [0, 1], [1, 2, 2, 1], ['R@1', 'C@3']],
    ['true matches 1', [1], [true, false, true], ['R@1', 'C@2']],
    ['boolean list matches numbers', [false], [0, 1, 0], ['R@1', 'C@2']],
    ['strings', ['RUN', 'STOP'], ['RUN', 'PROGRAM', 'STOP'], ['R@1', 'C@2']],
    ['null skipped', [0], [null, 3, null, 0], ['R@1', 'C@3']],
  ];
  it.each(cases)('%s', (_n, values, seq, want) => {
    const e = engine([{ id: 'a', type: 'allowed_values', device: 'tank1', tag: 'level', values }]);
    expect(marks(feed(e, 'level', seq))).toEqual(want);
  });

  it('defaults to whitelist/medium and lists the allowed values', () => {
    const e = engine([{ id: 'mode', type: 'allowed_values', device: 'tank1', tag: 'mode', values: [0, 1] }]);
    const [f] = feed(e, 'mode', [2]);
    expect(f).toMatchObject({ category: 'whitelist', severity: 'medium', observed: 2, expected: [0, 1] });
    expect(f.message).toBe('mode = 2 is not an allowed value (allowed: 0, 1)');
  });
});

describe('rate', () => {
  const cases: Array<[string, Record<string, unknown>, number[], number, string[]]> = [
    ['slow change is fine', { max_per_s: 0.5 }, [1, 1.2, 1.4, 1.6], 1000, []],
    ['a jump raises and the next normal step clears', { max_per_s: 0.5 }, [1, 1.1, 4, 4.1, 4.2], 1000, ['R@2', 'C@3']],
    ['rate uses the real time between samples', { max_per_s: 0.5 }, [1, 2], 4000, []],
    ['falling counts too', { max_per_s: 1 }, [5, 2], 1000, ['R@1']],
    ['hold keeps it active', { max_per_s: 0.5, hold_ms: 2500 }, [1, 4, 4, 4, 4, 4], 1000, ['R@1', 'C@4']],
    ['max_changes: toggling pump', { max_changes: 2, window_ms: 10_000 }, [0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 1000, ['R@3', 'C@11']],
    ['max_changes: slow toggling is fine', { max_changes: 2, window_ms: 10_000 }, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1], 1000, []],
    ['min_change ignores noise', { max_changes: 1, window_ms: 10_000, min_change: 0.5 }, [1, 1.1, 1.0, 1.2, 1.1, 2, 1], 1000, ['R@6']],
  ];
  it.each(cases)('%s', (_n, p, values, step, want) => {
    const e = engine([{ id: 'r', type: 'rate', device: 'tank1', tag: 'level', ...p }]);
    expect(marks(feed(e, 'level', values, step), step)).toEqual(want);
  });

  it('ignores duplicate and out-of-order timestamps', () => {
    const e = engine([{ id: 'r', type: 'rate', device: 'tank1', tag: 'level', max_per_s: 1 }]);
    const out = [...e.onSample(sample('level', 1, T0 + 1000)), ...e.onSample(sample('level', 9, T0 + 1000)), ...e.onSample(sample('level', 9, T0)), ...e.onSample(sample('level', 1.5, T0 + 2000))];
    expect(out).toEqual([]);
  });

  it('evaluateTime clears a hold and an aged change window without new samples', () => {
    const e = engine([{ id: 'r', type: 'rate', device: 'tank1', tag: 'pump', max_changes: 1, window_ms: 5000 }]);
    const raised = feed(e, 'pump', [0, 1, 0]);
    expect(marks(raised)).toEqual(['R@2:pump']);
    expect(e.evaluateTime(T0 + 4000)).toEqual([]);
    const cleared = e.evaluateTime(T0 + 7000);
    expect(cleared).toHaveLength(1);
    expect(cleared[0]).toMatchObject({ active: false, tag: 'pump', ts: T0 + 7000 });
  });

  it('explains the violation in the message', () => {
    const e = engine([{ id: 'r', type: 'rate', device: 'tank1', tag: 'level', max_per_s: 0.5 }]);
    const [f] = feed(e, 'level', [1, 3]);
    expect(f.message).toBe('level moves faster than allowed: 1 -> 3 in 1000 ms = 2/s (max 0.5/s)');
    expect(f.evidence).toMatchObject({ previous: 1, dt_ms: 1000, rate_per_s: 2 });
  });
});

describe('stuck', () => {
  const noisy = (n: number) => Array.from({ length: n }, (_, i) => 20 + Math.sin(i) * 0.3);
  const cases: Array<[string, Record<string, unknown>, number[], string[]]> = [
    ['a noisy value never sticks', { duration_ms: 5000 }, noisy(30), []],
    ['a frozen value raises after the duration, clears when it moves', { duration_ms: 5000 }, [...noisy(3), 7, 7, 7, 7, 7, 7, 7, 7, 7.1], ['R@9', 'C@11']],
    ['exactly the duration is not yet stuck', { duration_ms: 5000 }, [7, 7, 7, 7, 7, 7], []],
    ['tolerance band: drift within it is still stuck', { duration_ms: 3000, tolerance: 0.05 }, [5, 5.01, 5.02, 5.03, 5.04, 5.2], ['R@4', 'C@5']],
    ['tolerance band: movement resets', { duration_ms: 3000, tolerance: 0.05 }, [5, 5.01, 5.1, 5.11, 5.12, 5.13], []],
  ];
  it.each(cases)('%s', (_n, p, values, want) => {
    const e = engine([{ id: 's', type: 'stuck', device: 'tank1', tag: 'level', ...p }]);
    expect(marks(feed(e, 'level', values))).toEqual(want);
  });

  it('judges only while `when` holds', () => {
    const e = engine([{ id: 's', type: 'stuck', device: 'tank1', tag: 'flow', duration_ms: 3000, when: 'pump == 1' }]);
    const out = [];
    for (let i = 0; i < 12; i++) {
      const ts = T0 + i * 1000;
      out.push(...e.onSample(sample('pump', i >= 5, ts)));
      out.push(...e.onSample(sample('flow', 3.5, ts)));
    }
    // pump off for 0..4: no judgement; on from 5: still for more than 3 s at 9
    expect(marks(out)).toEqual(['R@9:flow']);
  });

  it('reports how long the value stood still', () => {
    const e = engine([{ id: 's', type: 'stuck', device: 'tank1', tag: 'temp', duration_ms: 2000 }]);
    const [f] = feed(e, 'temp', [21.5, 21.5, 21.5, 21.5]);
    expect(f).toMatchObject({ tag: 'temp', observed: 21.5, category: 'anomaly', evidence: { still_ms: 3000 } });
    expect(f.message).toBe('temp has not moved from 21.5 for 3 s (limit 2 s)');
  });
});
