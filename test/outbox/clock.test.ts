// Retention ages events on the outbox clock, not the wall clock: an NTP step after a boot with a
// wrong clock expires nothing, downtime does not count, events in flight are never dropped, and
// a format 1 outbox file is migrated in place.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { GAP_RULE, SqliteOutbox, verifyChain } from '../../agent/outbox/index.js';
import type { OutboxConfig } from '../../agent/config/schema.js';
import type { RiskSignal } from '../../rules/signal.js';
import { bySeverity, drafts, roomyLimits, tempDir, testSigner } from './drafts.js';
import { writeFormat1File } from './format1.js';

const HOUR = 3_600_000;
const boxes: SqliteOutbox[] = [];
afterEach(() => {
  boxes.splice(0).forEach((b) => b.close());
});

interface Clocks {
  wall: number;
  mono: number;
}

function openBox(file: string, limits: Partial<OutboxConfig>, c: Clocks): SqliteOutbox {
  const box = SqliteOutbox.open({ file, agent: 'gw-1', site: 'plant-a', limits: { ...roomyLimits, ...limits }, now: () => c.wall, monotonic: () => c.mono, signer: testSigner });
  boxes.push(box);
  return box;
}

function held(box: SqliteOutbox): RiskSignal[] {
  return box.pending(1_000_000).map((e) => JSON.parse(e.payload) as RiskSignal);
}

describe('outbox clock', () => {
  it('expires nothing when NTP steps the wall clock 26 years forward', () => {
    const c = { wall: Date.UTC(2000, 0, 1), mono: 0 };
    const box = openBox(':memory:', { max_age_hours: 24 }, c);
    box.append(drafts(50));
    c.mono += 60_000;
    c.wall = Date.UTC(2026, 5, 1);
    expect(box.enforceRetention()).toBeUndefined();
    box.append(drafts(1));
    expect(box.depth()).toBe(51);
    expect(box.stats().dropped).toBe(0);
    // A day of the agent holding them does expire them (the 51st is a minute younger).
    c.mono += 24 * HOUR - 60_000 + 1;
    const gap = box.enforceRetention();
    expect(gap?.rule).toBe(GAP_RULE);
    expect(gap?.evidence).toMatchObject({ reasons: ['max_age'], dropped_total: 50, first_seq: 1, last_seq: 50 });
    expect(gap?.ts).toBe(new Date(Date.UTC(2026, 5, 1)).toISOString());
  });

  it('expires nothing when the wall clock steps backwards', () => {
    const c = { wall: Date.UTC(2026, 5, 1), mono: 0 };
    const box = openBox(':memory:', { max_age_hours: 1 }, c);
    box.append(drafts(5));
    c.wall = Date.UTC(1970, 0, 2);
    c.mono += 30 * 60_000;
    box.append(drafts(5));
    c.mono += 31 * 60_000;
    expect(box.enforceRetention()?.evidence).toMatchObject({ dropped_total: 5, first_seq: 1, last_seq: 5 });
    expect(held(box).map((s) => s.seq)).toEqual([6, 7, 8, 9, 10, 11]);
  });

  it('continues across restarts and does not count the time the agent was stopped', () => {
    const file = path.join(tempDir(), 'outbox.sqlite');
    const c = { wall: Date.UTC(2026, 0, 1), mono: 5_000 };
    let box = openBox(file, { max_age_hours: 2 }, c);
    box.append(drafts(3));
    c.mono += 90 * 60_000;
    box.close();
    // A week later, a new process: its monotonic clock starts again near zero.
    const c2 = { wall: c.wall + 7 * 24 * HOUR, mono: 12 };
    box = openBox(file, { max_age_hours: 2 }, c2);
    expect(box.depth()).toBe(3);
    c2.mono += 29 * 60_000;
    expect(box.enforceRetention()).toBeUndefined();
    c2.mono += 2 * 60_000;
    expect(box.enforceRetention()?.evidence).toMatchObject({ reasons: ['max_age'], dropped_total: 3 });
  });

  it('folds a gap event that is itself past max_age_hours into the next one', () => {
    const c = { wall: Date.UTC(2026, 0, 1), mono: 0 };
    const box = openBox(':memory:', { max_age_hours: 1 }, c);
    box.append(drafts(5));
    c.mono += 2 * HOUR;
    expect(box.enforceRetention()?.seq).toBe(6);
    box.append(drafts(2));
    c.mono += 2 * HOUR;
    expect(box.enforceRetention()?.evidence).toMatchObject({ dropped_total: 7, replaces: [6] });
    expect(held(box).map((s) => s.seq)).toEqual([9]);
  });
});

describe('events in flight', () => {
  it('are not expired by age while awaiting PUBACK, and are once released', () => {
    const c = { wall: Date.UTC(2026, 0, 1), mono: 0 };
    const box = openBox(':memory:', { max_age_hours: 1 }, c);
    box.append(drafts(10));
    box.inflight([1, 2, 3]);
    c.mono += 2 * HOUR;
    const gap = box.enforceRetention();
    expect(gap?.evidence).toMatchObject({ dropped_total: 7, first_seq: 4, last_seq: 10 });
    expect(held(box).map((s) => s.seq)).toEqual([1, 2, 3, 11]);
    box.ack([1]);
    box.release([2]);
    const next = box.enforceRetention();
    expect(next?.evidence).toMatchObject({ replaces: [11] });
    expect(held(box).map((s) => s.seq)).toEqual([3, 12]);
    box.release();
    expect(box.enforceRetention()?.evidence).toMatchObject({ replaces: [12] });
    expect(held(box).map((s) => s.seq)).toEqual([13]);
  });

  it('are not dropped to make room, even when they are the least severe', () => {
    const c = { wall: Date.UTC(2026, 0, 1), mono: 0 };
    const box = openBox(':memory:', { max_events: 100 }, c);
    box.append(bySeverity('info', 80));
    box.inflight(Array.from({ length: 80 }, (_, i) => i + 1));
    box.append(bySeverity('low', 10));
    const out = box.append(bySeverity('high', 20));
    const gap = out.find((s) => s.rule === GAP_RULE);
    expect(gap?.evidence).toMatchObject({ dropped: { info: 0, low: 10, high: 1 } });
    const rest = held(box);
    expect(rest.filter((s) => s.severity === 'info')).toHaveLength(80);
    expect(rest).toHaveLength(100);
    expect(verifyChain(rest).ok).toBe(true);
  });
});

describe('format 1 outbox files', () => {
  it('are migrated in place: events kept, chain continued, old wall-clock ages ignored', () => {
    const file = path.join(tempDir(), 'outbox.sqlite');
    const { signals, payloads } = writeFormat1File(file, 'gw-1', 'plant-a', testSigner);
    const c = { wall: Date.UTC(2026, 0, 1), mono: 0 };
    const box = openBox(file, { max_age_hours: 1 }, c);
    expect(box.pending(10)).toEqual(payloads);
    const next = box.append(drafts(1));
    expect(next[0]).toMatchObject({ seq: 4, prev_hash: signals[2].hash });
    expect(box.refuse(2, { reason_code: 135, reason: 'Not authorized', at_ms: c.wall })).toBe(signals[1].rule);
    expect(box.stats()).toMatchObject({ depth: 3, refused: 1, oldest_refused_seq: 2, dropped: 0 });
    box.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT value FROM meta WHERE key = 'format'").get()).toEqual({ value: '2' });
    const cols = (check.prepare('PRAGMA table_info(events)').all() as Array<{ name: string }>).map((r) => r.name);
    expect(cols).toEqual(expect.arrayContaining(['held_ms', 'refused_ms', 'refused_code', 'refused_reason']));
    check.close();
  });
});
