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
      expect(await store.findingById(first!.id)).toEqual(first);
      expect(await store.findingById(first!.id + 1000)).toBeUndefined();
      expect((await store.listFindings({ code: 'gap' })).length).toBe(1);
      expect((await store.listFindings({ agent: 'gw-1', since_ms: 51 })).length).toBe(0);
    });

    it('reads findings after an id oldest first, and counts what lies beyond the cursors', async () => {
      const a = new SimAgent('plant-a', 'gw-1');
      await store.insertSignals(a.take(5).map((r) => input(r)));
      const ids: number[] = [];
      for (let i = 1; i <= 5; i++) ids.push((await store.addFinding({ code: 'offline', severity: 'medium', agent: 'gw-1', message: `offline ${i}.`, ts_ms: i }))!.id);
      expect(await store.addFinding({ code: 'gap', severity: 'high', message: 'dup.', dedupe_key: 'k', ts_ms: 6 })).toBeDefined();
      expect(await store.addFinding({ code: 'gap', severity: 'high', message: 'dup.', dedupe_key: 'k', ts_ms: 7 })).toBeUndefined();
      const first = await store.findingsAfter(0, 2);
      expect(first.map((f) => f.message)).toEqual(['offline 1.', 'offline 2.']);
      const rest = await store.findingsAfter(first[1]!.id, 100);
      expect(rest.map((f) => f.message)).toEqual(['offline 3.', 'offline 4.', 'offline 5.', 'dup.']);
      expect(rest[0]).toEqual({ code: 'offline', severity: 'medium', agent: 'gw-1', message: 'offline 3.', ts_ms: 3, id: ids[2] });
      expect(await store.countFindingsAfter(first[1]!.id)).toBe(4);
      expect(await store.countFindingsAfter(rest[3]!.id)).toBe(0);
      const signals = await store.signalsAfter(0, 100);
      expect(await store.countSignalsAfter(0)).toBe(5);
      expect(await store.countSignalsAfter(signals[1]!.arrival)).toBe(3);
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

    it('keeps a history point per change of site level, site score or device risk', async () => {
      const put = (agent: string, ms: number, level: string, score: number, plc: number) =>
        store.putAssets({ site: 'plant-a', agent, received_ms: ms, payload: { site_level: level, site_score: score, devices: [{ id: 'plc-1', risk_score: plc }, { id: 'plc-2' }] } });
      await put('gw-1', 10, 'normal', 0, 0);
      await put('gw-1', 20, 'normal', 0, 0); // unchanged: no point
      await put('gw-1', 30, 'severe', 90, 90);
      await put('gw-2', 35, 'elevated', 30, 30);
      await put('gw-1', 40, 'severe', 90, 95);
      await store.putAssets({ site: 'plant-b', agent: 'gw-9', received_ms: 50, payload: {} });
      const a = await store.assetsHistory({ site: 'plant-a', agent: 'gw-1' });
      expect(a.map((p) => [p.received_ms, p.site_level, p.site_score, p.devices])).toEqual([
        [10, 'normal', 0, { 'plc-1': 0, 'plc-2': 0 }],
        [30, 'severe', 90, { 'plc-1': 90, 'plc-2': 0 }],
        [40, 'severe', 90, { 'plc-1': 95, 'plc-2': 0 }],
      ]);
      expect((await store.assetsHistory({ site: 'plant-a' })).map((p) => p.received_ms)).toEqual([10, 30, 35, 40]);
      expect((await store.assetsHistory({ site: 'plant-a', limit: 2 })).map((p) => p.received_ms)).toEqual([35, 40]);
      expect((await store.assetsHistory({ since_ms: 36 })).map((p) => [p.agent, p.received_ms])).toEqual([['gw-1', 40], ['gw-9', 50]]);
      expect((await store.assetsHistory({ site: 'plant-b' }))[0]).toMatchObject({ site_level: 'normal', site_score: 0, devices: {} });
      await store.prune({ max_age_ms: 10, now_ms: 45 });
      expect((await store.assetsHistory()).map((p) => p.received_ms)).toEqual([35, 40, 50]);
    });

    it('lists open alerts: raised above info and not cleared by a later signal of the same rule, device, tag and condition', async () => {
      const a = new SimAgent('plant-a', 'gw-1');
      const b = new SimAgent('plant-b', 'gw-9');
      const d = (over: Partial<ReturnType<SimAgent['draft']>>) => ({ ...a.draft(), ...over });
      const r1 = a.next(d({ rule: 'level-range', tag: 'level', state: 'raised', severity: 'high' }));
      const r2 = a.next(d({ rule: 'level-range', tag: 'flow', state: 'raised', severity: 'high' }));
      const c1 = a.next(d({ rule: 'level-range', tag: 'level', state: 'cleared', severity: 'high' }));
      const r3 = a.next(d({ rule: 'setpoint', tag: 'sp', state: 'raised', severity: 'critical', evidence: { condition: 'above' } }));
      const c3other = a.next(d({ rule: 'setpoint', tag: 'sp', state: 'cleared', severity: 'critical', evidence: { condition: 'below' } }));
      const info = a.next(d({ rule: 'otsentry.approval', state: 'raised', severity: 'info' }));
      const r4 = a.next(d({ rule: 'level-range', tag: 'level', state: 'raised', severity: 'medium' }));
      const other = b.next({ ...b.draft(), state: 'raised', severity: 'low' });
      await store.insertSignals([r1, r2, c1, r3, c3other, info, r4, other].map((x) => input(x)));
      const open = await store.openAlertSignals();
      expect(open.map((s) => s.signal.id)).toEqual([other, r4, r3, r2].map((x) => x.signal.id));
      expect((await store.openAlertSignals({ site: 'plant-a', limit: 2 })).map((s) => s.signal.id)).toEqual([r4, r3].map((x) => x.signal.id));
      // A later batch clears one; a redelivered old raise does not reopen it.
      const c4 = a.next(d({ rule: 'level-range', tag: 'level', state: 'cleared', severity: 'medium' }));
      await store.insertSignals([input(c4)]);
      await store.insertSignals([input({ ...r4, signal: { ...r4.signal, id: 'replayed-copy' } })]);
      expect((await store.openAlertSignals({ site: 'plant-a' })).map((s) => s.signal.id)).toEqual([r3, r2].map((x) => x.signal.id));
      // Retention that drops an alert's latest signal drops the alert.
      await store.prune({ max_age_ms: 0, now_ms: 1001 });
      expect(await store.openAlertSignals()).toEqual([]);
    });

    it('reads the response steps of several alerts at once', async () => {
      await store.addResponse({ alert: 'a', action: 'ack', by: 'alice', ts_ms: 1 });
      await store.addResponse({ alert: 'b', action: 'ack', by: 'bob', ts_ms: 2 });
      await store.addResponse({ alert: 'finding:7', action: 'annotate', by: 'bob', ts_ms: 3, text: 'looking' });
      expect((await store.responsesFor(['finding:7', 'a'])).map((r) => [r.alert, r.by])).toEqual([['a', 'alice'], ['finding:7', 'bob']]);
      expect(await store.responsesFor([])).toEqual([]);
      expect(await store.responsesFor(['none'])).toEqual([]);
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
