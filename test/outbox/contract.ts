// The Outbox contract (agent/outbox/types.ts), as one suite run against every outbox setup (like
// MQTT.js's abstract_store test): a function taking a factory of stores. Each test gets a new
// store in the setup under test, which may already hold undelivered events (a reopened or a
// migrated file); the suite asserts relative to what it finds:
// - append commits a batch: seq +1 per event from last_seq, fresh ids, hash chain, signature,
//   canonical payload; a bad draft commits nothing of its batch; an empty batch is a no-op;
// - pending is oldest first with limit and afterSeq; ack removes; unknown and repeated acks are ignored;
// - refused events are kept, listed, not pending, and pending again after retry;
// - retention drops the least severe first, never an event in flight, and records a gap event;
// - close then open: the same undelivered payloads byte for byte, seq and chain continue; close is idempotent.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxConfig } from '../../agent/config/schema.js';
import { GAP_RULE, canonicalJson, hashSignal, verifyChain, type Outbox } from '../../agent/outbox/index.js';
import type { RiskSignal, SignalDraft } from '../../rules/signal.js';
import type { Signer } from '../../agent/signing/keys.js';
import { bySeverity, draft, drafts } from './drafts.js';

/** One store (a file) in the setup under test. */
export interface OutboxStore {
  /** Open the store (again); it keeps its events across opens. */
  open(limits?: Partial<OutboxConfig>): Outbox;
  /** the key its events are signed with */
  signer: Signer;
}

const parse = (payload: string): RiskSignal => JSON.parse(payload) as RiskSignal;
const held = (box: Outbox): RiskSignal[] => box.pending(1_000_000).map((e) => parse(e.payload));

function expectSealed(s: RiskSignal, signer: Signer): void {
  const { hash, sig, ...rest } = s;
  expect(hashSignal(rest)).toBe(hash);
  expect(s.key_id).toBe(signer.keyId);
  expect(crypto.verify(null, Buffer.from(hash), crypto.createPublicKey(signer.info.public_key), Buffer.from(sig!, 'base64'))).toBe(true);
}

export function outboxContract(name: string, newStore: () => OutboxStore): void {
  describe(`Outbox contract: ${name}`, () => {
    const opened: Outbox[] = [];
    let store: OutboxStore;
    const open = (limits?: Partial<OutboxConfig>): Outbox => {
      const box = store.open(limits);
      opened.push(box);
      return box;
    };
    afterEach(() => {
      for (const b of opened.splice(0)) b.close();
    });
    const fresh = (): Outbox => {
      store = newStore();
      return open();
    };

    it('append commits a batch: seq +1 from last_seq, fresh ids, chained, signed, canonical payloads', () => {
      const box = fresh();
      const before = held(box);
      const last = box.stats().last_seq;
      const a = box.append(drafts(3));
      const b = box.append([draft({ severity: 'critical', tag: undefined })]);
      const made = [...a, ...b];
      expect(made.map((s) => s.seq)).toEqual([last + 1, last + 2, last + 3, last + 4]);
      expect(new Set([...before, ...made].map((s) => s.id)).size).toBe(before.length + 4);
      // The chain links on from the newest event (events delivered earlier are gone from the store).
      if (before.at(-1)?.seq === last) expect(made[0].prev_hash).toBe(before.at(-1)!.hash);
      for (const s of made) expectSealed(s, store.signer);
      expect(verifyChain(made)).toEqual({ ok: true, problems: [] });
      const stored = box.pending(1_000_000);
      for (const e of stored) expect(canonicalJson(parse(e.payload))).toBe(e.payload);
      expect(stored.slice(-4).map((e) => parse(e.payload))).toEqual(made);
      expect(box.stats()).toMatchObject({ depth: before.length + 4, last_seq: last + 4 });
      expect(box.depth()).toBe(before.length + 4);
    });

    it('a batch with a bad draft commits nothing; an empty batch is a no-op', () => {
      const box = fresh();
      const stats = box.stats();
      const bad = { ...draft(), severity: 'severe' } as unknown as SignalDraft;
      expect(() => box.append([draft(), bad])).toThrow(expect.objectContaining({ code: 'outbox_invalid_event' }));
      expect(box.append([])).toEqual([]);
      expect(box.stats()).toEqual(stats);
      expect(box.append([draft()])[0].seq).toBe(stats.last_seq + 1);
    });

    it('pending is oldest first with limit and afterSeq; ack removes; unknown and repeated acks are ignored', () => {
      const box = fresh();
      const made = box.append(drafts(5));
      const all = held(box);
      expect(all.map((s) => s.seq)).toEqual([...all.map((s) => s.seq)].sort((x, y) => x - y));
      expect(box.pending(2).map((e) => e.seq)).toEqual(all.slice(0, 2).map((s) => s.seq));
      expect(box.pending(2, made[1].seq).map((e) => e.seq)).toEqual([made[2].seq, made[3].seq]);
      const bytes = box.stats().bytes;
      box.ack([made[0].seq, made[2].seq]);
      box.ack([made[0].seq, 999_999_999]);
      const rest = held(box);
      expect(rest.map((s) => s.seq)).toEqual(all.map((s) => s.seq).filter((q) => q !== made[0].seq && q !== made[2].seq));
      expect(box.stats().bytes).toBeLessThan(bytes);
      expect(box.stats().bytes).toBe(box.entries(1_000_000).reduce((n, e) => n + Buffer.byteLength(e.payload), 0));
      box.ack(rest.map((s) => s.seq));
      expect(box.depth()).toBe(0);
      expect(box.stats()).toMatchObject({ depth: 0, bytes: 0, last_seq: made[4].seq });
    });

    it('a refused event is kept and listed, not pending, counted, and pending again after retry', () => {
      const box = fresh();
      const [x, y] = box.append(drafts(2, { rule: 'range.refused' }));
      const at = Date.UTC(2026, 0, 1);
      expect(box.refuse(x.seq, { reason_code: 153, reason: 'Payload format invalid', at_ms: at })).toBe('range.refused');
      expect(box.refuse(999_999_999, { reason_code: 153, reason: 'x', at_ms: at })).toBeUndefined();
      expect(held(box).map((s) => s.seq)).not.toContain(x.seq);
      expect(held(box).map((s) => s.seq)).toContain(y.seq);
      expect(box.refused(10)).toEqual([expect.objectContaining({ seq: x.seq, rule: 'range.refused', reason_code: 153, reason: 'Payload format invalid', refused_at: new Date(at).toISOString() })]);
      expect(box.entries(10, 0, true).map((e) => e.seq)).toEqual([x.seq]);
      expect(box.stats()).toMatchObject({ refused: 1, oldest_refused_seq: x.seq });
      expect(box.retry()).toEqual([x.seq]);
      expect(box.refused(10)).toEqual([]);
      expect(held(box).map((s) => s.seq)).toContain(x.seq);
    });

    it('retention drops the least severe first, never an event in flight, and records a gap event', () => {
      store = newStore();
      const first = open();
      const prior = first.depth();
      first.close();
      const box = open({ max_events: prior + 12 });
      const flying = box.append(bySeverity('info', 3));
      box.inflight(flying.map((s) => s.seq));
      const high = box.append(bySeverity('high', 4));
      box.append(bySeverity('low', 10));
      const now = held(box);
      const gaps = now.filter((s) => s.rule === GAP_RULE);
      expect(gaps).toHaveLength(1);
      expect(gaps[0]).toMatchObject({ category: 'availability', severity: 'medium' });
      expect(now.length).toBeLessThanOrEqual(prior + 12);
      const seqs = new Set(now.map((s) => s.seq));
      for (const s of [...flying, ...high]) expect(seqs.has(s.seq), `seq ${s.seq} (${s.severity}) kept`).toBe(true);
      expect(box.stats().dropped).toBeGreaterThan(0);
      expect(verifyChain(now)).toEqual({ ok: true, problems: [] });
      box.release();
    });

    it('close, then open: the same undelivered payloads byte for byte; seq and chain continue, also after all was acked', () => {
      store = newStore();
      const box = open();
      box.append(drafts(3));
      const payloads = box.pending(1_000_000);
      const last = held(box).at(-1)!;
      box.close();
      box.close();
      expect(() => box.append([draft()])).toThrow(expect.objectContaining({ code: 'outbox_unavailable' }));
      const again = open();
      expect(again.pending(1_000_000)).toEqual(payloads);
      const [next] = again.append([draft()]);
      expect(next).toMatchObject({ seq: last.seq + 1, prev_hash: last.hash });
      again.ack(again.pending(1_000_000).map((e) => e.seq));
      again.close();
      const third = open();
      expect(third.depth()).toBe(0);
      expect(third.append([draft()])[0]).toMatchObject({ seq: next.seq + 1, prev_hash: next.hash });
    });
  });
}
