// A detector that throws is isolated by the engine: suspended for its device only, reported once as
// data, retried after a backoff in data time, restored after its probation; nothing else stops.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rangeType } from '../../rules/range.js';
import { RETRY_MIN_MS, ruleFailureFinding, type RuleFailure } from '../../rules/failures.js';
import type { Detector, Finding } from '../../rules/types.js';
import { engine, fact, link, sample, T0 } from './helpers.js';

const create = rangeType.create;

/** Range detectors of `device` throw on values of 100 and above (a bug on some input). */
function breakRangeOn(device: string): void {
  vi.spyOn(rangeType, 'create').mockImplementation((rule, ctx) => {
    const det: Detector = create(rule, ctx);
    if (rule.device !== device) return det;
    const onSample = det.onSample!.bind(det);
    return Object.assign(Object.create(det) as Detector, {
      onSample: (...a: Parameters<typeof onSample>) => {
        if (a[1] >= 100) throw new RangeError(`index ${a[1]} out of range`);
        onSample(...a);
      },
    });
  });
}

const RULES = [
  { id: 'level-range', type: 'range', device: 'tank1', tag: 'level', max: 5 },
  { id: 'mode-allowed', type: 'allowed_values', device: 'tank1', tag: 'mode', values: [0, 1] },
  { id: 'level-rate', type: 'rate', device: 'tank1', tag: 'level', max_per_s: 10 },
  { id: 'level-range-2', type: 'range', device: 'tank2', tag: 'level', max: 5 },
];

/** One poll cycle: level and mode of one device, then its link fact. */
function cycle(e: ReturnType<typeof engine>, device: string, ts: number, level: number, mode = 1): { findings: Finding[]; failures: RuleFailure[] } {
  const findings = [...e.onSample(sample('level', level, ts, device)), ...e.onSample(sample('mode', mode, ts, device)), ...e.onFact(link(ts, {}, device))];
  return { findings, failures: [...e.takeFailures()] };
}

const ids = (fs: Finding[]) => fs.map((f) => `${f.active ? 'R' : 'C'}:${f.rule}@${f.device}`);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a detector that throws', () => {
  it('is suspended for its device only; the other rules of that device and other devices still fire', () => {
    breakRangeOn('tank1');
    const e = engine(RULES);
    expect(cycle(e, 'tank1', T0, 1).failures).toEqual([]);
    const t1 = T0 + 1000;
    const a = cycle(e, 'tank1', t1, 150, 2);
    // The rate rule sees the same sample after the range rule threw on it; the mode rule fires too.
    expect(ids(a.findings)).toEqual(['R:level-rate@tank1', 'R:mode-allowed@tank1']);
    expect(a.failures).toEqual([
      { state: 'suspended', rule: 'level-range', type: 'range', device: 'tank1', ts: t1, failures: 1, error: 'RangeError: index 150 out of range', during: 'sample', retry_at: t1 + RETRY_MIN_MS },
    ]);
    const b = cycle(e, 'tank2', t1, 150);
    expect(ids(b.findings)).toEqual(['R:level-range-2@tank2']);
    expect(b.failures).toEqual([]);
    expect(e.stats().suspended).toBe(1);

    // Suspended: not called again, so no second failure, however often the bad value comes.
    for (let i = 2; i < 20; i++) expect(cycle(e, 'tank1', T0 + i * 1000, 150 + i, 1).failures).toEqual([]);
  });

  it('comes back after its backoff, is suspended twice as long when it throws again, and restored after a clean probation', () => {
    breakRangeOn('tank1');
    const e = engine(RULES);
    cycle(e, 'tank1', T0, 150);
    // Resumed at the first cycle end at or after retry_at, with the state it had.
    const t1 = T0 + RETRY_MIN_MS;
    const back = cycle(e, 'tank1', t1, 200);
    expect(back.failures.map((f) => [f.state, f.failures, f.retry_at])).toEqual([['resumed', 1, undefined]]);
    // Resumed during the link fact of that cycle: it throws on the next sample.
    const again = cycle(e, 'tank1', t1 + 1000, 200);
    expect(again.failures.map((f) => [f.state, f.failures, f.retry_at])).toEqual([['suspended', 2, t1 + 1000 + 2 * RETRY_MIN_MS]]);

    const t2 = t1 + 1000 + 2 * RETRY_MIN_MS;
    expect(cycle(e, 'tank1', t2, 6).failures.map((f) => f.state)).toEqual(['resumed']);
    // Judging again: a value above max raises (the same instance, so it can clear later too).
    expect(ids(cycle(e, 'tank1', t2 + 1000, 7).findings)).toEqual(['R:level-range@tank1']);
    expect(ids(cycle(e, 'tank1', t2 + 2000, 4).findings)).toEqual(['C:level-range@tank1']);
    expect(cycle(e, 'tank1', t2 + 2 * RETRY_MIN_MS - 1, 4).failures).toEqual([]);
    expect(cycle(e, 'tank1', t2 + 2 * RETRY_MIN_MS, 4).failures.map((f) => [f.state, f.failures])).toEqual([['restored', 2]]);
    expect(e.stats().suspended).toBe(0);
    // Restored: the count starts over.
    expect(cycle(e, 'tank1', t2 + 3 * RETRY_MIN_MS, 300).failures.map((f) => [f.state, f.failures, f.retry_at])).toEqual([['suspended', 1, t2 + 4 * RETRY_MIN_MS]]);
  });

  it('is isolated on every path: facts, cycle ends and time evaluation', () => {
    const e = engine([
      { id: 'id', type: 'identity', device: 'tank1', expected: { vendor: 'acme' } },
      { id: 'id2', type: 'identity', device: 'tank2', expected: { vendor: 'acme' } },
      { id: 'up', type: 'availability', device: 'tank1', down_after_polls: 1 },
    ]);
    // A field whose toString throws: String() inside the identity detector throws a TypeError.
    const bad = fact('identity', { vendor: Object.create(null) as object }, T0);
    expect(e.onFact(bad)).toEqual([]);
    const [f] = e.takeFailures();
    expect(f).toMatchObject({ state: 'suspended', rule: 'id', device: 'tank1', during: 'fact', error: expect.stringMatching(/^TypeError: /) as unknown as string });
    expect(e.onFact(fact('identity', { vendor: 'evil' }, T0, 'tank2')).map((x) => x.rule)).toEqual(['id2']);
    expect(e.onFact(link(T0, { reachable: false })).map((x) => x.rule)).toEqual(['up']);
    expect(e.takeFailures()).toEqual([]);
  });

  it('becomes the built-in otsentry.rule_failed finding: raised when suspended, cleared when restored', () => {
    const base = { rule: 'level-range', type: 'range', device: 'tank1', ts: T0, failures: 1 };
    const raised = ruleFailureFinding({ ...base, state: 'suspended', error: 'RangeError: x', during: 'sample', retry_at: T0 + RETRY_MIN_MS })!;
    expect(raised).toMatchObject({ rule: 'otsentry.rule_failed', device: 'tank1', condition: 'level-range', category: 'availability', severity: 'high', active: true, observed: 'RangeError: x' });
    expect(raised.message).toBe('rule level-range (range) failed on tank1 and is suspended for this device until 2025-03-01T08:01:00.000Z: RangeError: x');
    expect(ruleFailureFinding({ ...base, state: 'resumed' })).toBeUndefined();
    expect(ruleFailureFinding({ ...base, state: 'restored' })).toMatchObject({ rule: 'otsentry.rule_failed', condition: 'level-range', active: false });
  });
});
