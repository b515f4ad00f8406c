// Refused events in the outbox: kept with their refusal, no longer pending, listed, exported
// byte for byte, retried, and all of it across a restart.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxError, SqliteOutbox } from '../../agent/outbox/index.js';
import { drafts, roomyLimits, tempDir, testSigner } from './drafts.js';

const boxes: SqliteOutbox[] = [];
afterEach(() => {
  boxes.splice(0).forEach((b) => b.close());
});

const AT = Date.UTC(2026, 2, 3, 4, 5, 6);

function open(file: string): SqliteOutbox {
  const box = SqliteOutbox.open({ file, agent: 'gw-1', site: 'plant-a', limits: roomyLimits, signer: testSigner });
  boxes.push(box);
  return box;
}

describe('refused events', () => {
  it('are kept with the reason, skipped by pending() and listed, across a restart', () => {
    const file = path.join(tempDir(), 'outbox.sqlite');
    let box = open(file);
    const signals = box.append(drafts(5));
    box.inflight([3]);
    expect(box.refuse(3, { reason_code: 135, reason: 'Not authorized', at_ms: AT })).toBe('range.pump_speed');
    expect(box.refuse(3, { reason_code: 135, reason: 'Not authorized', at_ms: AT })).toBeUndefined();
    expect(box.refuse(99, { reason_code: 135, reason: 'Not authorized', at_ms: AT })).toBeUndefined();
    expect(box.pending(10).map((e) => e.seq)).toEqual([1, 2, 4, 5]);
    expect(box.stats()).toMatchObject({ depth: 4, refused: 1, oldest_refused_seq: 3 });
    box.close();
    box = open(file);
    expect(box.depth()).toBe(4);
    expect(box.refused(10)).toEqual([
      { seq: 3, rule: 'range.pump_speed', device: 'plc-1', severity: 'low', ts: signals[2].ts, reason_code: 135, reason: 'Not authorized', refused_at: '2026-03-03T04:05:06.000Z' },
    ]);
    expect(box.entries(10, 0, true)).toEqual([{ seq: 3, payload: JSON.stringify(signals[2]) }]);
    expect(box.entries(10).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('are pending again after retry (chosen seqs or all)', () => {
    const box = open(':memory:');
    box.append(drafts(6));
    for (const seq of [2, 4, 5]) box.refuse(seq, { reason_code: 153, reason: 'Payload format invalid', at_ms: AT });
    expect(box.retry([4, 6])).toEqual([4]);
    expect(box.stats()).toMatchObject({ refused: 2, oldest_refused_seq: 2, depth: 4 });
    expect(box.retry()).toEqual([2, 5]);
    expect(box.stats()).toMatchObject({ refused: 0, depth: 6 });
    expect(box.stats().oldest_refused_seq).toBeUndefined();
    expect(box.pending(10).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('an inspection of a missing outbox names the file instead of creating one', () => {
    const file = path.join(tempDir(), 'nothing.sqlite');
    expect(() => SqliteOutbox.inspect({ file, agent: 'gw-1', site: 'plant-a', limits: roomyLimits })).toThrow(OutboxError);
    expect(() => SqliteOutbox.inspect({ file, agent: 'gw-1', site: 'plant-a', limits: roomyLimits })).toThrow(`outbox ${file} does not exist`);
  });
});
