// SqliteOutbox: seq and chain, pending/ack, reopen continuity, and clear errors for bad files.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, OutboxError, SqliteOutbox, verifyChain } from '../../agent/outbox/index.js';
import { SIGNAL_SCHEMA_VERSION, type RiskSignal, type SignalDraft } from '../../rules/signal.js';
import { draft, drafts, roomyLimits, tempDir, testSigner } from './drafts.js';

const open: SqliteOutbox[] = [];
function openBox(file: string, agent = 'gw-1', site = 'plant-a'): SqliteOutbox {
  const box = SqliteOutbox.open({ file, agent, site, limits: roomyLimits, signer: testSigner });
  open.push(box);
  return box;
}
afterEach(() => {
  open.splice(0).forEach((b) => b.close());
});

function all(box: SqliteOutbox): RiskSignal[] {
  return box.pending(1_000_000).map((e) => JSON.parse(e.payload) as RiskSignal);
}

describe('append', () => {
  it('returns full signals with rising seq, ids and a chain from genesis', () => {
    const box = openBox(path.join(tempDir(), 'o.sqlite'));
    const a = box.append(drafts(3));
    const b = box.append([draft({ severity: 'high', tag: undefined })]);
    const s = [...a, ...b];
    expect(s.map((x) => x.seq)).toEqual([1, 2, 3, 4]);
    expect(new Set(s.map((x) => x.id)).size).toBe(4);
    expect(s[0].prev_hash).toBe(GENESIS_HASH);
    expect(s.every((x) => x.v === SIGNAL_SCHEMA_VERSION && x.agent === 'gw-1' && x.site === 'plant-a')).toBe(true);
    expect(s[3]).not.toHaveProperty('tag');
    expect(verifyChain(s).ok).toBe(true);
    expect(all(box)).toEqual(s);
    expect(box.depth()).toBe(4);
  });

  it('ignores identity fields smuggled in a draft', () => {
    const box = openBox(':memory:');
    const sneaky = { ...draft(), seq: 99, id: 'x', hash: 'y', agent: 'other' } as SignalDraft;
    const [s] = box.append([sneaky]);
    expect(s.seq).toBe(1);
    expect(s.agent).toBe('gw-1');
    expect(verifyChain([s]).ok).toBe(true);
  });

  it('rejects an invalid draft and commits nothing of its batch', () => {
    const box = openBox(':memory:');
    const bad = { ...draft(), severity: 'severe' } as unknown as SignalDraft;
    expect(() => box.append([draft(), bad])).toThrow(/draft #1 .*severity must be info\|low\|medium\|high\|critical/);
    expect(box.depth()).toBe(0);
    expect(box.append([draft()])[0].seq).toBe(1);
  });

  it('appends an empty batch as a no-op', () => {
    const box = openBox(':memory:');
    expect(box.append([])).toEqual([]);
    expect(box.stats()).toEqual({ depth: 0, bytes: 0, last_seq: 0, dropped: 0, refused: 0 });
  });
});

describe('pending and ack', () => {
  it('returns unacked events oldest first, honours limit and afterSeq', () => {
    const box = openBox(':memory:');
    box.append(drafts(10));
    expect(box.pending(3).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(box.pending(3, 5).map((e) => e.seq)).toEqual([6, 7, 8]);
    box.ack([1, 2, 4, 99]);
    expect(box.pending(4).map((e) => e.seq)).toEqual([3, 5, 6, 7]);
    expect(box.depth()).toBe(7);
    box.ack([4]);
    expect(box.depth()).toBe(7);
    expect(box.stats().bytes).toBe(box.pending(100).reduce((n, e) => n + Buffer.byteLength(e.payload), 0));
  });
});

describe('reopen', () => {
  it('continues seq and chain across close/open even when everything was acked', () => {
    const file = path.join(tempDir(), 'o.sqlite');
    const box = openBox(file);
    const first = box.append(drafts(5));
    box.ack(first.map((s) => s.seq));
    box.close();
    const again = openBox(file);
    expect(again.depth()).toBe(0);
    const next = again.append(drafts(2));
    expect(next.map((s) => s.seq)).toEqual([6, 7]);
    expect(next[0].prev_hash).toBe(first[4].hash);
    expect(verifyChain([...first, ...next]).ok).toBe(true);
  });

  it('keeps unacked events, their bytes and their order', () => {
    const file = path.join(tempDir(), 'o.sqlite');
    const box = openBox(file);
    const first = box.append(drafts(20));
    box.ack([1, 2, 3]);
    const stats = box.stats();
    box.close();
    const again = openBox(file);
    expect(again.stats()).toEqual({ ...stats, dropped: 0 });
    expect(all(again)).toEqual(first.slice(3));
  });
});

describe('bad files', () => {
  it('names the file and the fix when it is not a database', () => {
    const file = path.join(tempDir(), 'o.sqlite');
    fs.writeFileSync(file, 'this is not sqlite, it is a text file that happens to be long enough'.repeat(100));
    let err: unknown;
    try {
      openBox(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutboxError);
    expect((err as OutboxError).code).toBe('outbox_corrupt');
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain(`mv ${file} ${file}.corrupt`);
  });

  it('refuses an outbox that belongs to another agent', () => {
    const file = path.join(tempDir(), 'o.sqlite');
    openBox(file).close();
    expect(() => openBox(file, 'gw-2')).toThrow(/belongs to agent plant-a\/gw-1, not plant-a\/gw-2; give each agent its own data_dir/);
  });

  it('refuses a second open of a file in use', () => {
    const file = path.join(tempDir(), 'o.sqlite');
    openBox(file).append(drafts(1));
    expect(() => openBox(file)).toThrow(/in use by another process/);
  });

  it('explains an unwritable location', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'not-a-dir'), '');
    const file = path.join(dir, 'not-a-dir', 'o.sqlite');
    expect(() => openBox(file)).toThrow(`outbox ${file} cannot be opened for writing`);
    expect(() => openBox(file)).toThrow(/check that its directory exists and is writable/);
  });
});
