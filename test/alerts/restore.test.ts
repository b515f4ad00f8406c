// Open alerts survive a restart: a condition that still holds is not raised twice, and one that
// is gone is cleared after the grace period, saying why.
import { describe, expect, it } from 'vitest';
import { AlertManager } from '../../rules/alerts/manager.js';
import type { Finding } from '../../rules/types.js';

const T0 = Date.UTC(2026, 0, 1);
const f = (active: boolean, t: number): Finding => ({ rule: 'mode', device: 'plc', tag: 'mode', category: 'whitelist', severity: 'medium', active, ts: T0 + t, message: active ? 'mode 2 not allowed' : 'mode allowed again', response: 'check' });

function restarted(grace = 10_000): AlertManager {
  const before = new AlertManager({ restore_grace_ms: grace });
  expect(before.onFinding(f(true, 0))).toHaveLength(1);
  const saved = JSON.parse(JSON.stringify(before.openAlerts()));
  const after = new AlertManager({ restore_grace_ms: grace });
  after.restore(saved, T0 + 5_000);
  return after;
}

describe('alerts across a restart', () => {
  it('keeps an open alert open without raising it again while the condition holds', () => {
    const m = restarted();
    expect(m.onFinding(f(true, 6_000))).toEqual([]);
    expect(m.tick(T0 + 60_000)).toEqual([]); // confirmed: the grace deadline no longer applies
    expect(m.stats().active).toBe(1);
    expect(m.score('plc')).toBeGreaterThan(0);
    const cleared = m.onFinding(f(false, 70_000));
    expect(cleared).toHaveLength(1);
    expect(cleared[0]).toMatchObject({ state: 'cleared', rule: 'mode', message: 'mode allowed again' });
  });

  it('clears an alert nobody confirms after the grace period, saying why', () => {
    const m = restarted(10_000);
    expect(m.tick(T0 + 14_000)).toEqual([]);
    const out = m.tick(T0 + 15_000);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ state: 'cleared', rule: 'mode', evidence: { reason: 'not_confirmed_after_restart' } });
    expect(out[0].message).toContain('no longer seen after the agent restarted');
    expect(m.stats().active).toBe(0);
  });

  it('exports nothing when no alert is open', () => {
    const m = new AlertManager();
    m.onFinding(f(true, 0));
    m.onFinding(f(false, 1000));
    expect(m.openAlerts()).toEqual([]);
  });
});
