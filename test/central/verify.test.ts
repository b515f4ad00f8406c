// Central against a real mosquitto and a real SQLite store, SimAgents publishing: every bad input
// (malformed, oversized, unknown agent, replayed, wrong signature, forged, edited, key change) is
// refused with one finding and one log line while the good signals around it are all stored;
// gaps (covered or not), stalls and the Last Will are findings; a restart resumes without
// duplicates. The clock and the sweeps are driven by the test.
import crypto from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GAP_RULE } from '../../agent/outbox/canonical.js';
import { ephemeralSigner } from '../../agent/signing/keys.js';
import { SimAgent, type Sealed } from '../../bench/central/simagent.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { Publisher, startCentralForTest, until, type CentralUnderTest } from './harness.js';

let broker: TestBroker;
let n = 0;
const running: CentralUnderTest[] = [];
const pubs: Publisher[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
});
afterEach(async () => {
  for (const c of running.splice(0)) await c.central.stop();
  for (const p of pubs.splice(0)) await p.close();
});
afterAll(async () => {
  await broker?.stop();
});

/** A central and a publisher on a topic prefix of their own (retained topics do not leak between tests). */
async function setup(extra: Record<string, unknown> = {}) {
  const prefix = `t${process.pid}x${++n}`;
  const c = await startCentralForTest(broker.url, { ...extra, broker: { topic_prefix: prefix, ...(extra.broker as object) } });
  running.push(c);
  const pub = await Publisher.connect(broker.url, prefix);
  pubs.push(pub);
  return { c, pub, store: c.central.store, prefix };
}

const codes = async (c: CentralUnderTest) => (await c.central.store.listFindings({ limit: 1000 })).map((f) => f.code).sort();
const warnLines = (c: CentralUnderTest, code: string) => c.logs.filter((l) => l.finding === code && l.level === 40);

describe('central verifies and stores', () => {
  it('stores a signed chain once, counts redeliveries as duplicates, and raises nothing', async () => {
    const { c, pub, store } = await setup();
    // What the SIEM output and the console listen to.
    const fed = { signals: [] as number[], agents: [] as number[], assets: 0, findings: 0 };
    c.central.feed.on('signal', (s) => fed.signals.push(s.arrival));
    c.central.feed.on('agent', (r) => fed.agents.push(r.chain_seq));
    c.central.feed.on('assets', () => fed.assets++);
    c.central.feed.on('finding', () => fed.findings++);
    const a = new SimAgent('plant-a', 'gw-1');
    await pub.status(a);
    await pub.assets(a);
    const sent = a.take(50);
    await pub.events(a, sent.map((s) => s.payload));
    await until(async () => (await store.countSignals()) === 50, '50 stored signals');
    await pub.events(a, sent.slice(0, 10).map((s) => s.payload));
    await until(() => c.central.ingest.stats.duplicates === 10, '10 duplicates counted');
    await c.central.ingest.idle();
    expect(await store.countSignals()).toBe(50);
    const rec = await store.getAgent('plant-a', 'gw-1');
    expect(rec?.pinned?.key_id).toBe(a.signer.keyId);
    expect(rec).toMatchObject({ chain_seq: 50, chain_state: 'verified', last_seq: 50, status_state: 'online' });
    expect((await store.getAssets('plant-a', 'gw-1'))?.payload.site_level).toBe('normal');
    expect(await codes(c)).toEqual([]);
    expect(c.central.ingest.stats).toMatchObject({ received: 60, verified: 60, stored: 50 });
    expect(fed.signals).toHaveLength(50);
    expect(new Set(fed.signals).size).toBe(50);
    expect(fed.agents.at(-1)).toBe(50);
    expect(fed).toMatchObject({ assets: 1, findings: 0 });
  });

  it('refuses each bad input with one finding and one log line, and stores every good signal around them', async () => {
    const { c, pub, store } = await setup({ verify: { max_payload_bytes: 2048, replay_after_secs: 60, allow_agents: ['plant-a/*'] } });
    const a = new SimAgent('plant-a', 'gw-1');
    await pub.status(a);
    const good = a.take(12);
    const other = ephemeralSigner();
    const resign = (s: Sealed, signer = other, keyId?: string): string => {
      const sig = signer.sign(s.signal.hash);
      return JSON.stringify({ ...s.signal, sig, ...(keyId ? { key_id: keyId } : {}) });
    };
    // A signal signed by another key that claims the pinned key id: the signature does not verify.
    const wrongSig = resign(a.next());
    // Another signer's own, well-formed chain under this agent's name: forged.
    const forger = new SimAgent('plant-a', 'gw-1', other);
    forger.seq = 20;
    const forged = forger.next().payload;
    // One field changed after sealing: edited.
    const edited = JSON.stringify({ ...good[3]!.signal, severity: 'info' });
    const bad: Array<[string, string | Buffer, string?]> = [
      ['malformed', '{not json'],
      ['malformed', JSON.stringify({ hello: 'world' })],
      ['oversized', Buffer.alloc(4096, 'x')],
      ['bad_signature', wrongSig],
      ['forged', forged],
      ['edited', edited],
      ['unknown_agent', new SimAgent('plant-b', 'gw-9').next().payload, 'plant-b/gw-9'],
    ];
    for (let i = 0; i < good.length; i++) {
      await pub.events(a, [good[i]!.payload]);
      const b = bad[i];
      if (b) await pub.raw(b[2] ?? a, b[1]);
    }
    await until(async () => (await store.countSignals()) === 12 && (await codes(c)).length === bad.length, 'the good signals stored and one finding per bad input');
    expect(await codes(c)).toEqual(bad.map((b) => b[0]).sort());
    for (const code of new Set(bad.map((b) => b[0]))) expect(warnLines(c, code)).toHaveLength(bad.filter((b) => b[0] === code).length);
    const rec = await store.getAgent('plant-a', 'gw-1');
    expect(rec).toMatchObject({ chain_seq: 12, chain_state: 'verified' });

    // The same old signal again, long after its first arrival: replayed (refused, not stored twice).
    c.clock.now += 61_000;
    await pub.events(a, [good[0]!.payload]);
    await until(async () => (await codes(c)).includes('replayed'), 'a replayed finding');
    expect(warnLines(c, 'replayed')).toHaveLength(1);
    expect(await store.countSignals()).toBe(12);
  });

  it('a key change is a finding, refuses the new key until `keys accept`, then stores its signals', async () => {
    const { c, pub, store } = await setup();
    const a = new SimAgent('plant-a', 'gw-2');
    await pub.status(a);
    await pub.events(a, a.take(3).map((s) => s.payload));
    await until(async () => (await store.countSignals()) === 3, '3 stored');
    // The agent comes back with a new key (reinstalled) and goes on with its chain.
    const b = new SimAgent('plant-a', 'gw-2');
    b.seq = a.seq;
    b.hash = a.hash;
    await pub.status(b);
    await until(async () => (await codes(c)).includes('key_changed'), 'key_changed');
    const refused = b.next();
    await pub.events(b, [refused.payload]);
    await until(async () => (await codes(c)).filter((x) => x === 'key_changed').length === 2, 'the signal of the new key refused');
    expect((await store.getAgent('plant-a', 'gw-2'))?.pending?.key_id).toBe(b.signer.keyId);
    const { acceptKey } = await import('../../agent/central/keys.js');
    await expect(acceptKey(store, 'plant-a/gw-2', { by: 'test', now: Date.now() })).rejects.toThrow(/--key-id/);
    await acceptKey(store, 'plant-a/gw-2', { keyId: b.signer.keyId, by: 'test', now: Date.now() });
    await c.central.sweep();
    const after = b.next();
    await pub.events(b, [after.payload]);
    await until(async () => (await store.signalById(after.signal.id)) !== undefined, 'the next signal of the accepted key stored');
    expect((await store.getAgent('plant-a', 'gw-2'))?.pinned?.key_id).toBe(b.signer.keyId);
  });
});

describe('central watches the chain and the agents', () => {
  it('a hole waits for the grace period, then is a gap finding; a hole a gap event covers is none', async () => {
    const { c, pub, store } = await setup({ verify: { gap_grace_secs: 30 } });
    const a = new SimAgent('plant-a', 'gw-3');
    await pub.status(a);
    const s = a.take(8);
    await pub.events(a, s.filter((x) => x.signal.seq !== 5).map((x) => x.payload));
    await until(async () => (await store.countSignals()) === 7, '7 stored');
    await c.central.sweep();
    expect(await codes(c)).toEqual([]);
    expect((await store.getAgent('plant-a', 'gw-3'))?.chain_seq).toBe(4);
    c.clock.now += 31_000;
    await c.central.sweep();
    const f = await store.listFindings({ code: 'gap' });
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ seq: 5, evidence: { first: 5, last: 5 } });
    expect(await store.getAgent('plant-a', 'gw-3')).toMatchObject({ chain_seq: 8, chain_state: 'gap' });

    // The agent's retention dropped seq 10 and said so in a gap event (seq 11): covered, no finding.
    const nine = a.next();
    const dropped = a.next();
    const gapEvent = a.next({ ...a.draft(), rule: GAP_RULE, category: 'availability', severity: 'low', state: 'raised', evidence: { dropped_seqs: [[dropped.signal.seq, dropped.signal.seq]], dropped_hashes: { [dropped.signal.seq]: dropped.signal.hash } } });
    await pub.events(a, [nine.payload, gapEvent.payload]);
    await until(async () => (await store.getAgent('plant-a', 'gw-3'))?.chain_seq === 11, 'the chain past the covered hole');
    expect((await store.listFindings({ code: 'gap' })).length).toBe(1);
  });

  it('a link that does not match is chain_broken', async () => {
    const { c, pub, store } = await setup();
    const a = new SimAgent('plant-a', 'gw-4');
    await pub.status(a);
    await pub.events(a, a.take(3).map((x) => x.payload));
    a.hash = crypto.createHash('sha256').update('elsewhere').digest('hex');
    await pub.events(a, a.take(2).map((x) => x.payload));
    // The finding is raised at seq 4; seq 5 is stored after it, so wait for both.
    await until(async () => (await codes(c)).includes('chain_broken') && (await store.getAgent('plant-a', 'gw-4'))?.chain_seq === 5, 'chain_broken and seq 5 stored');
    expect(await store.getAgent('plant-a', 'gw-4')).toMatchObject({ chain_seq: 5, chain_state: 'broken' });
    expect((await store.listFindings({ code: 'chain_broken' }))[0]?.seq).toBe(4);
  });

  it('an agent online with events waiting whose seq does not rise is stalled; one that is quiet with nothing to send is not', async () => {
    const { c, pub, store } = await setup({ verify: { stall_after_secs: 60 } });
    const busy = new SimAgent('plant-a', 'gw-5');
    const quiet = new SimAgent('plant-a', 'gw-6');
    await pub.status(busy, 'online', { outbox_depth: 40 });
    await pub.status(quiet, 'online', { outbox_depth: 0 });
    await pub.events(busy, busy.take(2).map((x) => x.payload));
    await until(async () => (await store.countSignals()) === 2, '2 stored');
    await c.central.sweep();
    expect(await codes(c)).toEqual([]);
    c.clock.now += 61_000;
    await pub.status(quiet, 'online', { outbox_depth: 0 }); // still refreshing its status
    await until(async () => (await store.getAgent('plant-a', 'gw-6'))?.status_ms === c.clock.now, 'the fresh status');
    await c.central.sweep();
    const f = await store.listFindings({ code: 'stalled' });
    expect(f.map((x) => x.agent)).toEqual(['gw-5']);
    await c.central.sweep();
    expect(await store.listFindings({ code: 'stalled' })).toHaveLength(1);
  });

  it("an agent's Last Will is an offline finding", async () => {
    const { c, prefix, store } = await setup();
    const a = new SimAgent('plant-a', 'gw-7');
    const topic = `${prefix}/${a.topicBase}/status`;
    const client = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0, keepalive: 5, will: { topic, payload: Buffer.from(a.status('offline', 'connection_lost')), qos: 1, retain: true } });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.publishAsync(topic, a.status('online'), { qos: 1, retain: true });
    await until(async () => (await store.getAgent('plant-a', 'gw-7'))?.status_state === 'online', 'online');
    client.stream.destroy(); // a lost connection: the broker publishes the will
    await until(async () => (await codes(c)).includes('offline'), 'the offline finding', 30_000);
    const f = (await store.listFindings({ code: 'offline' }))[0]!;
    expect(f).toMatchObject({ agent: 'gw-7', severity: 'high' });
    expect((await store.getAgent('plant-a', 'gw-7'))?.status_state).toBe('offline');
    client.end(true);
  });
});

describe('central restart', () => {
  it('resumes from its broker session: what was published while it was down is stored, nothing twice', async () => {
    const { c, pub, store, prefix } = await setup();
    const a = new SimAgent('plant-a', 'gw-8');
    await pub.status(a);
    await pub.events(a, a.take(20).map((x) => x.payload));
    await until(async () => (await store.countSignals()) === 20, '20 stored');
    await c.central.stop();
    running.splice(running.indexOf(c), 1);
    const during = a.take(30);
    await pub.events(a, during.map((x) => x.payload));
    // The agent resends some it had sent before (no PUBACK seen): deduped by id.
    const again = await startCentralForTest(broker.url, {}, c.dir);
    running.push(again);
    await pub.events(a, during.slice(0, 5).map((x) => x.payload));
    await until(async () => (await again.central.store.countSignals()) === 50, '50 stored after the restart');
    await until(() => again.central.ingest.stats.duplicates === 5, 'the 5 resent counted as duplicates');
    expect(await again.central.store.getAgent('plant-a', 'gw-8')).toMatchObject({ chain_seq: 50, chain_state: 'verified' });
    expect(await codes(again)).toEqual([]);
    expect(prefix).toBeTruthy();
  });
});

describe('central retention', () => {
  it('drops signals and findings older than retention.max_age_days on its run', async () => {
    const { c, pub, store } = await setup({ retention: { max_age_days: 1 } });
    const a = new SimAgent('plant-a', 'gw-9');
    await pub.status(a);
    await pub.events(a, a.take(5).map((x) => x.payload));
    await pub.raw(a, '{broken');
    await until(async () => (await store.countSignals()) === 5 && (await codes(c)).length === 1, '5 stored, 1 finding');
    c.clock.now += 2 * 86_400_000;
    await pub.events(a, a.take(2).map((x) => x.payload));
    await until(async () => (await store.countSignals()) === 7, '7 stored');
    await c.central.retain();
    expect((await store.listSignals()).map((s) => s.signal.seq).sort()).toEqual([6, 7]);
    expect(await codes(c)).toEqual([]);
    expect(c.logs.some((l) => l.stage === 'retention' && l.signals === 5 && l.findings === 1)).toBe(true);
  });
});

describe('central keys pinned by an operator', () => {
  it('events of an agent without a key wait for it; a key pinned from its PEM lets them in; without one they are refused after key_wait_secs', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { acceptKey } = await import('../../agent/central/keys.js');
    const { c, pub, store } = await setup({ verify: { key_wait_secs: 10 } });
    const known = new SimAgent('plant-a', 'gw-10');
    const stranger = new SimAgent('plant-a', 'gw-11');
    // Neither publishes a status: their events wait for a key.
    await pub.events(known, known.take(3).map((x) => x.payload));
    await pub.events(stranger, stranger.take(2).map((x) => x.payload));
    await until(() => c.central.ingest.stats.held === 5, '5 events held');
    const pem = path.join(c.dir, 'gw-10.pem');
    fs.writeFileSync(pem, known.signer.info.public_key);
    await acceptKey(store, 'plant-a/gw-10', { keyFile: pem, by: 'test', now: Date.now() });
    await c.central.sweep();
    expect(await store.countSignals()).toBe(3);
    expect(c.central.ingest.stats.held).toBe(2);
    c.clock.now += 11_000;
    await c.central.sweep();
    expect(c.central.ingest.stats.held).toBe(0);
    expect(await codes(c)).toEqual(['unknown_agent', 'unknown_agent']);
    expect(warnLines(c, 'unknown_agent')).toHaveLength(2);
    expect(await store.getAgent('plant-a', 'gw-10')).toMatchObject({ chain_seq: 3, pinned: { key_id: known.signer.keyId } });
  });
});
