// Table tests of integrity (baseline, float32, maintenance windows) and identity (FC43).
import { describe, expect, it } from 'vitest';
import { engine, fact, feed, marks, sample, T0 } from './helpers.js';

const integrity = (extra: Record<string, unknown> = {}) => ({ id: 'cfg', type: 'integrity', device: 'tank1', baseline: { sp_level: 3.2, kp: 12, mode: 1 }, ...extra });

describe('integrity', () => {
  const cases: Array<[string, Record<string, unknown>, (number | boolean | null)[], string[]]> = [
    ['approved value is silent', {}, [3.2, 3.2, 3.2], []],
    ['float32 rounding of the approved value is equal', {}, [Math.fround(3.2), Math.fround(3.2)], []],
    ['tamper raises once and clears when restored', {}, [3.2, 4.5, 4.5, 4.7, 3.2], ['R@1:sp_level', 'C@4:sp_level']],
    ['first reading already different', {}, [9], ['R@0:sp_level']],
    ['tolerance', { tolerance: 0.05 }, [3.24, 3.3, 3.21], ['R@1:sp_level', 'C@2:sp_level']],
    ['bad quality skipped', {}, [null, 3.2], []],
  ];
  it.each(cases)('%s', (_n, extra, values, want) => {
    const e = engine([integrity(extra)]);
    expect(marks(feed(e, 'sp_level', values))).toEqual(want);
  });

  it('names tag, previous and new value', () => {
    const e = engine([integrity()]);
    const [f] = feed(e, 'kp', [12, 40]);
    expect(f).toMatchObject({ rule: 'cfg', tag: 'kp', category: 'integrity', severity: 'high', observed: 40, expected: 12, evidence: { previous: 12, approved: 12 } });
    expect(f.message).toBe('kp changed from 12 to 40; approved value is 12');
  });

  it('previous is the approved value when the first reading differs', () => {
    const e = engine([integrity()]);
    const [f] = feed(e, 'mode', [2]);
    expect(f.message).toBe('mode changed from 1 to 2; approved value is 1');
  });

  it('compares booleans with 1/0 and strings exactly', () => {
    const e = engine([{ id: 'b', type: 'integrity', device: 'tank1', baseline: { pump: true, fw_name: 'v1.0' } }]);
    const out = [...e.onSample(sample('pump', 1, T0)), ...e.onSample(sample('fw_name', 'v1.0', T0)), ...e.onSample(sample('fw_name', 'v1.1', T0 + 1)), ...e.onSample(sample('pump', false, T0 + 2))];
    expect(out.map((f) => `${f.tag}:${String(f.observed)}`)).toEqual(['fw_name:v1.1', 'pump:false']);
  });

  describe('maintenance windows', () => {
    const window = { from: '2025-03-01T08:00:05Z', to: '2025-03-01T08:00:10Z' };
    it('suppresses changes inside the window and raises after it when the value still differs', () => {
      const e = engine([integrity({ maintenance: [window] })]);
      // change at 6 s (inside), still different at 11 s (after)
      const out = feed(e, 'sp_level', [3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 4, 4, 4, 4, 4, 4]);
      expect(marks(out)).toEqual(['R@10:sp_level']);
      expect(out[0].evidence).toMatchObject({ previous: 3.2, after_maintenance: true });
    });

    it('raises at the end of a window from evaluateTime, without a new sample', () => {
      const e = engine([integrity({ maintenance: [window] })]);
      feed(e, 'sp_level', [3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 4]);
      expect(e.evaluateTime(T0 + 9000)).toEqual([]);
      const out = e.evaluateTime(T0 + 10_000);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ tag: 'sp_level', active: true, observed: 4, evidence: { after_maintenance: true } });
    });

    it('a change reverted inside the window raises nothing', () => {
      const e = engine([integrity({ maintenance: [window] })]);
      expect(feed(e, 'sp_level', [3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 4, 3.2, 3.2, 3.2, 3.2, 3.2])).toEqual([]);
    });

    it('on_maintenance_end accept takes the new value as baseline', () => {
      const e = engine([integrity({ maintenance: [window], on_maintenance_end: 'accept' })]);
      expect(feed(e, 'sp_level', [3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 4, 4, 4, 4, 4, 4, 3.2])).toMatchObject([{ active: true, tag: 'sp_level', observed: 3.2, expected: 4 }]);
    });

    it('a change before the window is still raised', () => {
      const e = engine([integrity({ maintenance: [window] })]);
      expect(marks(feed(e, 'sp_level', [3.2, 5]))).toEqual(['R@1:sp_level']);
    });
  });
});

describe('identity', () => {
  const id = (o: Record<string, unknown>, ts: number) => fact('identity', { vendor: 'Acme', product_code: 'TP-100', revision: '1.2', ...o }, ts);
  const run = (rule: Record<string, unknown>, facts: Record<string, unknown>[]) => {
    const e = engine([{ id: 'ident', type: 'identity', device: 'tank1', ...rule }]);
    return facts.flatMap((o, i) => [...e.onFact(id(o, T0 + i * 1000))]);
  };
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>[], string[]]> = [
    ['approved identity is silent', { expected: { vendor: 'Acme', revision: '1.2' } }, [{}, {}], []],
    ['firmware swap raises, approved again clears', { expected: { vendor: 'Acme', revision: '1.2' } }, [{}, { revision: '6.6' }, { revision: '6.6' }, {}], ['R@1', 'C@3']],
    ['trust on first use', {}, [{}, {}, { product_code: 'TP-999' }], ['R@2']],
    ['trust on first use does not adopt a change', {}, [{}, { revision: '2' }, { revision: '2' }], ['R@1']],
    ['numbers compare as strings', { expected: { product_code: 100 } }, [{ product_code: '100' }, { product_code: 101 }], ['R@1']],
    ['a missing field is a change', { expected: { model_name: 'X' } }, [{ model_name: 'X' }, {}], ['R@1']],
  ];
  it.each(cases)('%s', (_n, rule, facts, want) => {
    expect(marks(run(rule, facts))).toEqual(want);
  });

  it('names the changed fields', () => {
    const [f] = run({ expected: { vendor: 'Acme', revision: '1.2' } }, [{ revision: '6.6', vendor: 'Evil' }]);
    expect(f).toMatchObject({ category: 'identity', severity: 'high', observed: { vendor: 'Evil', revision: '6.6' }, expected: { vendor: 'Acme', revision: '1.2' } });
    expect(f.message).toBe('tank1 identity changed: vendor Acme -> Evil, revision 1.2 -> 6.6');
  });

  it('ignores identity facts of other devices', () => {
    const e = engine([{ id: 'ident', type: 'identity', device: 'tank1', expected: { vendor: 'Acme' } }]);
    expect(e.onFact(fact('identity', { vendor: 'Other' }, T0, 'tank2'))).toEqual([]);
  });
});
