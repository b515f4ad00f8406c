// One contract suite for every CentralStore implementation (SQLite and PostgreSQL run it in
// store.test.ts): dedupe, arrival order and cursors, agents and key pinning, assets, findings,
// responses, retention.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CentralStore, SignalInput } from '../../agent/central/store/types.js';
import { GAP_RULE } from '../../agent/outbox/canonical.js';
import { SimAgent } from '../../bench/central/simagent.js';

const input = (s: { signal: SignalInput['signal']; payload: string }, received_ms = 1000): SignalInput => ({ ...s, verdict: 'verified', received_ms });

export function storeContract(name: string, open: () => Promise<CentralStore>): void {
  describe(`CentralStore contract: ${name}`, () => {
    let store: CentralStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('stores signals once by id, with rising arrival numbers', async () => {
      const a = new SimAgent('plant-a', 'gw-1');
      const [s1, s2, s3] = a.take(3);
      const r1 = await store.insertSignals([input(s1!), input(s2!)]);
      expect(r1.arrivals.every((x) => typeof x === 'number')).toBe(true);
      expect(r1.arrivals[1]!).toBeGreaterThan(r1.arrivals[0]!);
      const r2 = await store.insertSignals([input(s2!), input(s3!), input(s3!)]);
      expect(r2.arrivals[0]).toBeUndefined();
      expect(r2.arrivals[1]!).toBeGreaterThan(r1.arrivals[1]!);
      expect(r2.arrivals[2]).toBeUndefined();
      expect(await store.countSignals()).toBe(3);
      const got = await store.signalById(s2!.signal.id);
      expect(got?.signal).toEqual(s2!.signal);
      expect(got?.payload).toBe(s2!.payload);
      expect(got?.verdict).toBe('verified');
    });

    it('refuses a second signal with the same site, agent and seq', async () => {
      const a = new SimAgent('plant-a', 'gw-1');
      const s1 = a.next();
      const twin = { ...s1, signal: { ...s1.signal, id: 'other-id' }, payload: JSON.stringify({ ...s1.signal, id: 'other-id' }) };
      await store.insertSignals([input(s1)]);
      expect((await store.insertSignals([input(twin)])).arrivals).toEqual([undefined]);
      expect(await store.countSignals()).toBe(1);
    });

    it('reads in arrival order after a cursor, and keeps a cursor per output', async () => {
      const a = new SimAgent('plant-a', 'gw-1');
      const b = new SimAgent('plant-b', 'gw-9');
      const rows = [a.next(), b.next(), a.next(), b.next(), a.next()];
      for (const r of rows) await store.insertSignals([input(r)]);
      const first = await store.signalsAfter(0, 2);
      expect(first.map((s) => s.signal.id)).toEqual(rows.slice(0, 2).map((r) => r.signal.id));
      await store.setCursor('siem:splunk', first[1]!.arrival);
      expect(await store.getCursor('siem:splunk')).toBe(first[1]!.arrival);
      expect(await store.getCursor('siem:other')).toBe(0);
      const rest = await store.signalsAfter(await store.getCursor('siem:splunk'), 100);
      expect(rest.map((s) => s.signal.id)).toEqual(rows.slice(2).map((r) => r.signal.id));
      await store.setCursor('siem:splunk', rest[2]!.arrival);
      expect(await store.signalsAfter(await store.getCursor('siem:splunk'), 100)).toEqual([]);
    });

    it('finds signals by seq, gap events, and lists newest first with filters', async () => {
      const a = new SimAgent('plant-a', 'gw-1');
      const rows = a.take(4);
      const gap = a.next({ ...a.draft(), rule: GAP_RULE, device: '', evidence: { dropped_seqs: [[1, 2]] } });
      await store.insertSignals([...rows, gap].map((r, i) => input(r, 1000 + i)));
      expect((await store.signalsBySeq('plant-a', 'gw-1', 2, 3)).map((s) => s.signal.seq)).toEqual([2, 3]);
      expect((await store.gapSignals('plant-a', 'gw-1', 0)).map((s) => s.signal.seq)).toEqual([5]);
      expect(await store.gapSignals('plant-a', 'gw-1', 5)).toEqual([]);
      expect((await store.listSignals({ limit: 2 })).map((s) => s.signal.seq)).toEqual([5, 4]);
      expect((await store.listSignals({ site: 'plant-a', since_ms: 1003 })).map((s) => s.signal.seq)).toEqual([5, 4]);
      expect(await store.listSignals({ site: 'nowhere' })).toEqual([]);
    });

    it('creates and patches agents; chain advances only by compare-and-set', async () => {
      const rec = await store.touchAgent('plant-a', 'gw-1', { status_state: 'online', status: { state: 'online' }, status_ms: 5 }, 100);
      expect(rec).toMatchObject({ site: 'plant-a', agent: 'gw-1', status_state: 'online', status: { state: 'online' }, last_seq: 0, chain_seq: 0, chain_state: 'verified', first_seen_ms: 100, last_seen_ms: 100 });
      await store.touchAgent('plant-a', 'gw-1', { last_seq: 7, last_seq_ms: 200 }, 200);
      expect(await store.advanceChain('plant-a', 'gw-1', 0, { chain_seq: 3, chain_hash: 'h3' })).toBe(true);
      expect(await store.advanceChain('plant-a', 'gw-1', 0, { chain_seq: 4, chain_hash: 'h4' })).toBe(false);
      expect(await store.advanceChain('plant-a', 'gw-1', 3, { chain_seq: 5, chain_hash: 'h5', chain_state: 'gap' })).toBe(true);
      const got = await store.getAgent('plant-a', 'gw-1');
      expect(got).toMatchObject({ last_seq: 7, last_seq_ms: 200, chain_seq: 5, chain_hash: 'h5', chain_state: 'gap', first_seen_ms: 100, last_seen_ms: 200 });
      // Two central processes patch one agent from their own views: last_seq never goes down.
      await store.touchAgent('plant-a', 'gw-1', { last_seq: 6 }, 210);
      expect((await store.getAgent('plant-a', 'gw-1'))?.last_seq).toBe(7);
      expect((await store.listAgents()).map((x) => x.agent)).toEqual(['gw-1']);
      expect(await store.getAgent('plant-a', 'nobody')).toBeUndefined();
    });

    it('pins the first key, keeps it against a later one, and changes it only on accept', async () => {
      const k1 = { key_id: 'k1', public_key: 'PEM1' };
      const k2 = { key_id: 'k2', public_key: 'PEM2' };
      expect(await store.pinKeyIfNone('plant-a', 'gw-1', k1, 'first sight', 10)).toEqual(k1);
      expect(await store.pinKeyIfNone('plant-a', 'gw-1', k2, 'first sight', 20)).toEqual(k1);
      await store.touchAgent('plant-a', 'gw-1', { pending: { ...k2, seen_ms: 20 } }, 20);
      expect((await store.getAgent('plant-a', 'gw-1'))?.pending).toEqual({ ...k2, seen_ms: 20 });
      await store.acceptKey('plant-a', 'gw-1', k2, 'operator alice', 30);
      const got = await store.getAgent('plant-a', 'gw-1');
      expect(got?.pinned).toEqual({ ...k2, pinned_ms: 30, pinned_by: 'operator alice' });
      expect(got?.pending).toBeUndefined();
    });

    it('keeps the latest assets per agent', async () => {
      await store.putAssets({ site: 'plant-a', agent: 'gw-1', payload: { devices: [1] }, received_ms: 1 });
      await store.putAssets({ site: 'plant-a', agent: 'gw-1', payload: { devices: [2] }, received_ms: 2 });
      await store.putAssets({ site: 'plant-b', agent: 'gw-2', payload: { devices: [] }, received_ms: 3 });
      expect(await store.getAssets('plant-a', 'gw-1')).toEqual({ site: 'plant-a', agent: 'gw-1', payload: { devices: [2] }, received_ms: 2 });
      expect((await store.listAssets()).length).toBe(2);
      expect((await store.listAssets('plant-b')).map((a) => a.agent)).toEqual(['gw-2']);
    });

    it('raises a finding once per dedupe key and lists newest first', async () => {
      const f = { code: 'gap' as const, severity: 'high' as const, site: 'plant-a', agent: 'gw-1', seq: 4, message: 'seq 4-6 missing.', evidence: { first: 4, last: 6 }, dedupe_key: 'gap:plant-a/gw-1:4', ts_ms: 50 };
      const first = await store.addFinding(f);
      expect(first).toMatchObject({ ...f, id: expect.any(Number) });
      expect(await store.addFinding({ ...f, ts_ms: 60 })).toBeUndefined();
      await store.addFinding({ code: 'malformed', severity: 'medium', message: 'not JSON.', ts_ms: 70 });
      await store.addFinding({ code: 'malformed', severity: 'medium', message: 'not JSON again.', ts_ms: 80 });
      const all = await store.listFindings();
      expect(all.map((x) => x.message)).toEqual(['not JSON again.', 'not JSON.', 'seq 4-6 missing.']);
      expect(all[2]).toEqual(first);
      expect((await store.listFindings({ code: 'gap' })).length).toBe(1);
      expect((await store.listFindings({ agent: 'gw-1', since_ms: 51 })).length).toBe(0);
    });

    it('records response steps with who and when, per alert in order', async () => {
      await store.addResponse({ alert: 'sig-1', action: 'ack', by: 'alice', ts_ms: 1 });
      await store.addResponse({ alert: 'sig-2', action: 'assign', by: 'bob', ts_ms: 2, text: 'carol' });
      await store.addResponse({ alert: 'sig-1', action: 'resolve', by: 'alice', ts_ms: 3, text: 'valve was in manual for maintenance' });
      const one = await store.listResponses('sig-1');
      expect(one.map((r) => [r.action, r.by, r.ts_ms, r.text])).toEqual([
        ['ack', 'alice', 1, undefined],
        ['resolve', 'alice', 3, 'valve was in manual for maintenance'],
      ]);
      expect((await store.listResponses()).length).toBe(3);
    });

    it('retention drops by age, then the oldest beyond the size limit', async () => {
      const a = new SimAgent('plant-a', 'gw-1');
      const rows = a.take(10);
      await store.insertSignals(rows.map((r, i) => input(r, 1000 * (i + 1))));
      await store.addFinding({ code: 'malformed', severity: 'medium', message: 'old.', ts_ms: 500 });
      await store.addFinding({ code: 'malformed', severity: 'medium', message: 'new.', ts_ms: 9000 });
      expect(await store.prune({ max_age_ms: 7500, now_ms: 10_000 })).toEqual({ signals: 2, findings: 1 });
      const each = Buffer.byteLength(rows[9]!.payload);
      const r = await store.prune({ max_bytes: each * 3 + 1, now_ms: 10_000 });
      expect(r.signals).toBe(5);
      expect((await store.signalsAfter(0, 100)).map((s) => s.signal.seq)).toEqual([8, 9, 10]);
      expect((await store.listFindings()).map((f) => f.message)).toEqual(['new.']);
    });
  });
}
