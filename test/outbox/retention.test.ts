// Outbox retention by count, bytes and age: least severe first, oldest first within a
// severity, and a chained gap event for every drop.
import { afterEach, describe, expect, it } from 'vitest';
import { GAP_RULE, SqliteOutbox, verifyChain } from '../../agent/outbox/index.js';
import type { OutboxConfig } from '../../agent/config/schema.js';
import type { RiskSignal } from '../../rules/signal.js';
import { bySeverity, draft, roomyLimits } from './drafts.js';

const boxes: SqliteOutbox[] = [];
function openBox(limits: Partial<OutboxConfig>, now?: () => number, monotonic?: () => number): SqliteOutbox {
  const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: { ...roomyLimits, ...limits }, now, monotonic });
  boxes.push(box);
  return box;
}
afterEach(() => {
  boxes.splice(0).forEach((b) => b.close());
});

function held(box: SqliteOutbox): RiskSignal[] {
  return box.pending(1_000_000).map((e) => JSON.parse(e.payload) as RiskSignal);
}

function gaps(signals: RiskSignal[]): RiskSignal[] {
  return signals.filter((s) => s.rule === GAP_RULE);
}

describe('retention by count', () => {
  it('drops the oldest of the least severe events and records a gap event', () => {
    const box = openBox({ max_events: 100 });
    box.append(bySeverity('info', 60));
    box.append(bySeverity('high', 30));
    const out = box.append(bySeverity('low', 20));
    expect(out).toHaveLength(21);
    const gap = out[20];
    expect(gap).toMatchObject({
      seq: 111,
      rule: GAP_RULE,
      category: 'availability',
      severity: 'medium',
      device: 'gw-1',
      state: 'raised',
      evidence: {
        reasons: ['max_events'],
        dropped_total: 11,
        dropped: { info: 11, low: 0, medium: 0, high: 0, critical: 0 },
        first_seq: 1,
        last_seq: 11,
      },
    });
    expect(gap.message).toMatch(/^Outbox dropped 11 undelivered events over the outbox limits \(info 11; seq 1-11\); restore the broker link/);
    expect(box.depth()).toBe(100);
    const rest = held(box);
    expect(rest[0].seq).toBe(12);
    expect(verifyChain(rest)).toEqual({ ok: true, problems: [] });
    expect(box.stats().dropped).toBe(11);
  });

  it('drops lower severities completely before touching higher ones', () => {
    const box = openBox({ max_events: 100 });
    box.append(bySeverity('info', 5));
    box.append(bySeverity('critical', 90));
    const out = box.append(bySeverity('low', 20));
    const gap = gaps(out)[0];
    expect(gap.evidence).toMatchObject({ dropped_total: 16, dropped: { info: 5, low: 11 }, first_seq: 1, last_seq: 106 });
    const rest = held(box);
    expect(rest.filter((s) => s.severity === 'critical')).toHaveLength(90);
    expect(rest.filter((s) => s.severity === 'low').map((s) => s.seq)).toEqual([107, 108, 109, 110, 111, 112, 113, 114, 115]);
    expect(verifyChain(rest).ok).toBe(true);
  });

  it('accounts for every appended event and keeps one pending gap event', () => {
    const box = openBox({ max_events: 100 });
    let appended = 0;
    const severities = ['info', 'low', 'medium', 'high', 'critical'] as const;
    for (let i = 0; i < 40; i++) {
      const batch = Array.from({ length: 7 }, (_, j) => draft({ severity: severities[(i * 7 + j) % 5] }));
      appended += batch.length;
      box.append(batch);
    }
    const rest = held(box);
    const gapEvents = gaps(rest);
    expect(gapEvents).toHaveLength(1);
    const gap = gapEvents[0];
    expect(rest).toHaveLength(100);
    expect(rest.length - 1 + Number(gap.evidence?.dropped_total)).toBe(appended);
    expect(box.stats().dropped).toBe(Number(gap.evidence?.dropped_total));
    expect((gap.evidence?.replaces as number[]).length).toBeGreaterThan(0);
    // Every missing seq lies in the gap event's range, so the chain still verifies.
    expect(verifyChain(rest)).toEqual({ ok: true, problems: [] });
  });

  it('leaves delivered gap events alone and reports only new drops', () => {
    const box = openBox({ max_events: 100 });
    box.append(bySeverity('info', 101));
    const first = gaps(held(box))[0];
    box.ack([first.seq]);
    expect(first.evidence).toMatchObject({ dropped_total: 2, first_seq: 1, last_seq: 2 });
    box.append(bySeverity('info', 2));
    const second = gaps(held(box))[0];
    expect(second.evidence).toMatchObject({ dropped_total: 2, first_seq: 3, last_seq: 4 });
    expect(second.evidence).not.toHaveProperty('replaces');
  });
});

describe('retention by bytes', () => {
  it('keeps the payload total under max_bytes, least severe first', () => {
    const box = openBox({ max_bytes: 100_000 });
    const big = 'x'.repeat(1000);
    box.append(bySeverity('high', 30).map((d) => ({ ...d, message: big })));
    box.append(bySeverity('info', 30).map((d) => ({ ...d, message: big })));
    expect(box.stats().bytes).toBeLessThan(100_000);
    const out = box.append(bySeverity('medium', 30).map((d) => ({ ...d, message: big })));
    const gap = gaps(out)[0];
    const dropped = Number(gap.evidence?.dropped_total);
    expect(dropped).toBeGreaterThan(5);
    expect(gap.evidence).toMatchObject({ reasons: ['max_bytes'], dropped: { info: dropped, high: 0, medium: 0 }, first_seq: 31, last_seq: 30 + dropped });
    expect(box.stats().bytes).toBeLessThanOrEqual(100_000);
    const rest = held(box);
    expect(rest.filter((s) => s.severity === 'high')).toHaveLength(30);
    expect(rest.filter((s) => s.severity === 'medium' && s.rule !== GAP_RULE)).toHaveLength(30);
    expect(rest.filter((s) => s.severity === 'info').map((s) => s.seq)[0]).toBe(31 + dropped);
    expect(verifyChain(rest).ok).toBe(true);
  });
});

describe('retention by age', () => {
  // Wall clock and monotonic clock move together here; clock.test.ts steps them apart.
  it('expires events older than max_age_hours whatever their severity', () => {
    let now = Date.UTC(2025, 5, 1);
    let mono = 0;
    const box = openBox({ max_age_hours: 2 }, () => now, () => mono);
    box.append([...bySeverity('critical', 3), ...bySeverity('info', 2)]);
    now += 60 * 60 * 1000;
    mono += 60 * 60 * 1000;
    box.append(bySeverity('low', 2));
    now += 61 * 60 * 1000;
    mono += 61 * 60 * 1000;
    const out = box.append(bySeverity('info', 1));
    const gap = gaps(out)[0];
    expect(gap.evidence).toMatchObject({ reasons: ['max_age'], dropped_total: 5, dropped: { critical: 3, info: 2 }, first_seq: 1, last_seq: 5 });
    expect(gap.message).toContain('older than max_age_hours');
    expect(gap.ts).toBe(new Date(now).toISOString());
    expect(held(box).map((s) => s.seq)).toEqual([6, 7, 8, 9]);
  });

  it('expires on enforceRetention without new events', () => {
    let mono = 0;
    const box = openBox({ max_age_hours: 1 }, undefined, () => mono);
    box.append(bySeverity('medium', 4));
    expect(box.enforceRetention()).toBeUndefined();
    mono += 2 * 60 * 60 * 1000;
    const gap = box.enforceRetention();
    expect(gap?.seq).toBe(5);
    expect(gap?.evidence).toMatchObject({ dropped_total: 4, first_seq: 1, last_seq: 4 });
    expect(held(box)).toEqual([gap]);
    expect(verifyChain(held(box)).ok).toBe(true);
  });
});
