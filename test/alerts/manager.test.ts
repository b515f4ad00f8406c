// Alert lifecycle: raise once, clear, no repeats, flap suppression, rate limit, score and site level.
import { describe, expect, it } from 'vitest';
import { AlertManager } from '../../rules/alerts/manager.js';
import { RiskScorer, siteLevel } from '../../rules/alerts/score.js';
import { alertsConfigSchema } from '../../rules/alerts/config.js';
import { TokenBucket } from '../../rules/alerts/bucket.js';
import type { Finding } from '../../rules/types.js';
import type { Severity } from '../../rules/signal.js';

const T0 = Date.parse('2025-03-01T08:00:00Z');
const S = 1000;
const MIN = 60_000;

function finding(active: boolean, t: number, o: Partial<Finding> = {}): Finding {
  return {
    rule: 'lvl',
    device: 'tank1',
    tag: 'level',
    category: 'anomaly',
    severity: 'high',
    active,
    ts: T0 + t,
    message: active ? 'level high' : 'level ok',
    response: 'check',
    observed: 7,
    expected: { max: 5 },
    ...o,
  };
}

describe('alert lifecycle', () => {
  it('raises once, clears once, with ISO time and score', () => {
    const m = new AlertManager();
    const raised = m.onFinding(finding(true, 0));
    expect(raised).toEqual([
      { ts: '2025-03-01T08:00:00.000Z', device: 'tank1', tag: 'level', rule: 'lvl', category: 'anomaly', severity: 'high', state: 'raised', score: 50, message: 'level high', observed: 7, expected: { max: 5 }, evidence: { response: 'check' } },
    ]);
    expect(m.onFinding(finding(true, S))).toEqual([]);
    const cleared = m.onFinding(finding(false, 10 * S));
    expect(cleared).toHaveLength(1);
    expect(cleared[0]).toMatchObject({ state: 'cleared', ts: '2025-03-01T08:00:10.000Z', message: 'level ok', evidence: { active_ms: 10_000, repeats: 1 } });
    expect(cleared[0].evidence).not.toHaveProperty('response'); // the hint travels with the raise only
    expect(cleared[0].score).toBe(25); // half weight right after clearing
    expect(m.onFinding(finding(false, 11 * S))).toEqual([]);
  });

  it('1,000 identical findings raise exactly one alert', () => {
    const m = new AlertManager();
    const out = [];
    for (let i = 0; i < 1000; i++) out.push(...m.onFinding(finding(true, i * 100)));
    expect(out).toHaveLength(1);
    expect(out[0].state).toBe('raised');
    expect(m.stats()).toMatchObject({ raised: 1, repeats_ignored: 999, active: 1 });
  });

  it('a clear without a raise emits nothing', () => {
    const m = new AlertManager();
    expect(m.onFinding(finding(false, 0))).toEqual([]);
  });

  it('keeps alerts apart by rule, device, tag and condition', () => {
    const m = new AlertManager();
    const out = [
      ...m.onFinding(finding(true, 0)),
      ...m.onFinding(finding(true, 0, { tag: 'temp' })),
      ...m.onFinding(finding(true, 0, { device: 'tank2' })),
      ...m.onFinding(finding(true, 0, { rule: 'other' })),
      ...m.onFinding(finding(true, 0, { tag: undefined, condition: 'slow_response' })),
      ...m.onFinding(finding(true, 0, { tag: undefined, condition: 'unreachable' })),
    ];
    expect(out).toHaveLength(6);
    expect(out[4].evidence).toEqual({ condition: 'slow_response', response: 'check' });
  });
});

describe('flap suppression', () => {
  it('holds a flapping alert raised and reports it once with a flap count', () => {
    const m = new AlertManager({ flap: { window_ms: 10 * MIN, threshold: 3, hold_ms: 5 * MIN } });
    const states: string[] = [];
    // the condition toggles every 10 s for 2 minutes
    for (let i = 0; i < 12; i++) {
      for (const d of m.onFinding(finding(i % 2 === 0, i * 10 * S))) states.push(`${d.state}@${i}`);
    }
    expect(states).toEqual(['raised@0', 'cleared@1', 'raised@2', 'cleared@3', 'raised@4']);
    // quiet, but not yet long enough
    expect(m.tick(T0 + 110 * S + 4 * MIN)).toEqual([]);
    const released = m.tick(T0 + 110 * S + 5 * MIN);
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({ state: 'cleared', ts: new Date(T0 + 110 * S).toISOString(), evidence: { flapping: true, flaps: 3 } });
    // after the episode the alert behaves normally again
    expect(m.onFinding(finding(true, 20 * MIN)).map((d) => d.state)).toEqual(['raised']);
    expect(m.onFinding(finding(false, 21 * MIN)).map((d) => d.state)).toEqual(['cleared']);
  });

  it('raises spread wider than the window do not flap', () => {
    const m = new AlertManager({ flap: { window_ms: MIN, threshold: 2 } });
    const states: string[] = [];
    for (let i = 0; i < 6; i++) for (const d of m.onFinding(finding(i % 2 === 0, i * 40 * S))) states.push(d.state);
    expect(states).toEqual(['raised', 'cleared', 'raised', 'cleared', 'raised', 'cleared']);
  });

  it('a held alert whose condition returns stays held', () => {
    const m = new AlertManager({ flap: { threshold: 2, hold_ms: MIN } });
    m.onFinding(finding(true, 0));
    m.onFinding(finding(false, S));
    m.onFinding(finding(true, 2 * S));
    expect(m.onFinding(finding(false, 3 * S))).toEqual([]); // held
    expect(m.onFinding(finding(true, 4 * S))).toEqual([]); // absorbed
    expect(m.tick(T0 + 10 * MIN)).toEqual([]); // still active: nothing to release
    expect(m.snapshot().devices.tank1.active_alerts).toBe(1);
  });
});

describe('rate limit', () => {
  it('delays raises beyond the budget, counts them, and never loses them', () => {
    const m = new AlertManager({ rate_limit: { burst: 2, per_minute: 1 } });
    const out = [];
    for (let i = 0; i < 5; i++) out.push(...m.onFinding(finding(true, i, { tag: `t${i}` })));
    expect(out.map((d) => d.tag)).toEqual(['t0', 't1']);
    expect(m.stats()).toMatchObject({ raised: 2, rate_limited: 3, active: 5 });
    // t3 goes away while waiting: it is counted, not raised
    m.onFinding(finding(false, 10 * S, { tag: 't3' }));
    const late = m.tick(T0 + MIN);
    expect(late).toHaveLength(1);
    expect(late[0]).toMatchObject({ tag: 't2', state: 'raised', ts: new Date(T0 + 2).toISOString(), evidence: { delayed_ms: MIN - 2, rate_limited: 3 } });
    const later = m.tick(T0 + 2 * MIN);
    expect(later.map((d) => d.tag)).toEqual(['t4']);
    expect(later[0].evidence).not.toHaveProperty('rate_limited');
  });

  it('limits per rule, not globally', () => {
    const m = new AlertManager({ rate_limit: { burst: 1, per_minute: 1 } });
    const out = [...m.onFinding(finding(true, 0, { rule: 'a' })), ...m.onFinding(finding(true, 0, { rule: 'b' })), ...m.onFinding(finding(true, 0, { rule: 'a', tag: 'x' }))];
    expect(out.map((d) => d.rule)).toEqual(['a', 'b']);
  });

  it('token bucket refills with time and ignores a clock going back', () => {
    const b = new TokenBucket(2, 1 / 1000);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([true, true, false]);
    expect(b.take(-5000)).toBe(false);
    expect(b.take(1000)).toBe(true);
    expect(b.available(100_000)).toBe(2);
  });
});

describe('risk score and site level', () => {
  const sev = (severity: Severity, tag: string, t = 0) => finding(true, t, { severity, tag });

  it('combines active alerts and stays within 0..100', () => {
    const m = new AlertManager();
    expect(m.onFinding(sev('medium', 'a'))[0].score).toBe(25);
    expect(m.onFinding(sev('high', 'b'))[0].score).toBe(63); // 1 - 0.75*0.5
    expect(m.onFinding(sev('critical', 'c'))[0].score).toBe(93);
    for (let i = 0; i < 20; i++) m.onFinding(sev('critical', `x${i}`));
    expect(m.score('tank1')).toBeLessThanOrEqual(100);
    expect(m.score('nobody')).toBe(0);
  });

  it('decays after clearing with the half-life', () => {
    const m = new AlertManager({ score: { half_life_ms: 10 * MIN } });
    m.onFinding(sev('critical', 'a'));
    expect(m.onFinding(finding(false, MIN, { severity: 'critical', tag: 'a' }))[0].score).toBe(40);
    expect(m.score('tank1', T0 + 11 * MIN)).toBe(20);
    expect(m.score('tank1', T0 + 21 * MIN)).toBe(10);
  });

  it('uses an injected clock', () => {
    let now = T0;
    const m = new AlertManager({ score: { half_life_ms: MIN } }, { clock: () => now });
    m.onFinding(sev('high', 'a'));
    m.onFinding(finding(false, 0, { tag: 'a' }));
    expect(m.score('tank1')).toBe(25);
    now += MIN;
    expect(m.score('tank1')).toBe(13);
    expect(m.snapshot().ts).toBe(new Date(T0 + MIN).toISOString());
  });

  it('releases a held flapping alert on tick() by the injected clock alone', () => {
    let now = T0;
    const m = new AlertManager({ flap: { threshold: 2, hold_ms: MIN } }, { clock: () => now });
    const states: string[] = [];
    for (let i = 0; i < 4; i++) for (const d of m.onFinding(finding(i % 2 === 0, i * S))) states.push(d.state);
    expect(states).toEqual(['raised', 'cleared', 'raised']);
    now += 30 * S;
    expect(m.tick()).toEqual([]);
    now += MIN;
    expect(m.tick().map((d) => [d.state, d.evidence?.flapping])).toEqual([['cleared', true]]);
  });

  it('snapshot lists every device with score, level and active alerts', () => {
    const m = new AlertManager({}, { devices: ['tank1', 'tank2', 'pump3'] });
    m.onFinding(sev('high', 'a'));
    m.onFinding(finding(true, 0, { device: 'tank2', severity: 'low' }));
    const s = m.snapshot();
    expect(s.devices).toEqual({
      tank1: { score: 50, level: 'high', active_alerts: 1, max_severity: 'high' },
      tank2: { score: 10, level: 'normal', active_alerts: 1, max_severity: 'low' },
      pump3: { score: 0, level: 'normal', active_alerts: 0, max_severity: null },
    });
    expect(s.site_level).toBe('high');
    expect(s.site_score).toBe(50);
  });

  it.each([
    [[], 'normal'],
    [[10, 24], 'normal'],
    [[25], 'elevated'],
    [[50, 0], 'high'],
    [[75], 'severe'],
    [[30, 30, 30], 'high'], // three devices elevated: one grade up
    [[80, 30, 30], 'severe'],
  ])('site level of %j is %s', (scores, level) => {
    expect(siteLevel(scores, alertsConfigSchema.parse({}).site)).toBe(level);
  });

  it('weights come from the config', () => {
    const cfg = alertsConfigSchema.parse({ score: { weights: { low: 30 } } });
    expect(new RiskScorer(cfg.score).score([{ severity: 'low', active: true, clearedAt: NaN }], 0)).toBe(30);
    expect(() => alertsConfigSchema.parse({ site: { thresholds: [50, 40, 90] } })).toThrow(/three rising scores/);
  });
});
