// One refused event never stalls delivery and is never lost silently: permanent refusals are kept
// in the outbox as refused while the rest flow in order on the same connection, reported by a
// delivery_refused signal (never one for a refused signal), the status topic and stats; transient
// refusals are retried in order. Real mosquitto where it can send the code, a fake broker else.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder, type ForwarderOptions } from '../../agent/forward/index.js';
import { REFUSED_RULE } from '../../agent/forward/refusals.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import type { RiskSignal } from '../../rules/signal.js';
import { collect, withoutMosquitto, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { draft, drafts, roomyLimits, tempDir } from '../outbox/drafts.js';
import { brokerConfig, captureLog, firstArrivals, range, signals, until } from './fixtures.js';
import { startFakeBroker } from './fake-broker.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const EVENTS = 'otsentry/plant-a/gw-1/events';
const STATUS = 'otsentry/plant-a/gw-1/status';

function outbox(): SqliteOutbox {
  const box = SqliteOutbox.open({ file: path.join(tempDir(), 'outbox.sqlite'), agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
  cleanup.push(() => box.close());
  return box;
}

function forwarder(opts: Partial<ForwarderOptions> & Pick<ForwarderOptions, 'broker' | 'outbox'>): Forwarder {
  const f = new Forwarder({ agent: 'gw-1', site: 'plant-a', ...opts });
  cleanup.push(() => f.stop(500));
  return f;
}

async function broker(opts: Parameters<typeof startTestBroker>[0]): Promise<TestBroker> {
  const b = await startTestBroker({ kind: 'mosquitto', ...opts });
  cleanup.push(() => b.stop());
  return b;
}

describe.skipIf(withoutMosquitto('refused events (mosquitto)'))('refused events (mosquitto)', () => {
  it('keeps one oversized event as refused and delivers the rest in order; retry delivers it byte for byte', async () => {
    // mosquitto 2.0.11 drops the connection instead of answering when max_queued_messages is 0.
    const b = await broker({ config: ['message_size_limit 4000'], unlimitedQueue: false });
    const sub = await collect(b.url, EVENTS);
    cleanup.push(() => sub.close());
    const box = outbox();
    box.append(drafts(14));
    box.append([draft({ message: 'x'.repeat(10_000) })]);
    box.append(drafts(25));
    const original = box.entries(1, 14)[0];
    const { logger, lines } = captureLog();
    const f = forwarder({ broker: brokerConfig(b.url), outbox: box, logger });
    f.start();
    // 39 events and the delivery_refused signal (seq 41) that names seq 15.
    await sub.waitFor((m) => new Set(signals(m).map((s) => s.seq)).size >= 40, 20_000, '39 events and the refusal signal');
    expect(firstArrivals(sub.messages)).toEqual([...range(1, 14), ...range(16, 41)]);
    const signal = signals(sub.messages).find((s) => s.seq === 41) as RiskSignal;
    expect(signal).toMatchObject({ rule: REFUSED_RULE, category: 'availability', device: 'gw-1', evidence: { refused_total: 1, refused: [{ seq: 15, reason_code: -1 }] } });
    expect(signal.message).toContain('otsentry outbox retry --config FILE --seq 15');
    await until(() => box.depth() === 0, 10_000, 'the outbox to drain');
    expect(box.stats()).toMatchObject({ refused: 1, oldest_refused_seq: 15 });
    expect(box.refused(10)).toEqual([expect.objectContaining({ seq: 15, reason_code: -1, reason: expect.stringContaining('message_size_limit') })]);
    expect(box.entries(10, 0, true)).toEqual([original]);
    expect(f.stats()).toMatchObject({ refused: 1, rejected: 1 });
    expect(lines.filter((l) => l.error_code === 'puback_refused')).toHaveLength(1);

    // The operator lifts the limit and retries: the kept event arrives exactly as stored.
    await b.stop();
    const big = await broker({ port: b.port });
    await until(() => f.stats().connected && f.stats().connects >= 2, 20_000, 'the forwarder to reconnect');
    await sub.waitFor(() => sub.client.connected, 10_000, 'the subscriber to reconnect');
    expect(big.port).toBe(b.port);
    const n = sub.messages.length;
    expect(box.retry([15])).toEqual([15]);
    f.redeliver([15]);
    await sub.waitFor((m) => m.slice(n).some((x) => JSON.parse(x.payload).seq === 15), 10_000, 'seq 15 after retry');
    expect(sub.messages.slice(n).find((x) => JSON.parse(x.payload).seq === 15)?.payload).toBe(original.payload);
    await until(() => box.depth() === 0 && box.stats().refused === 0, 10_000, 'nothing left');
  });

  it('keeps refused events when the broker also drops the connection after each refusal', { timeout: 60_000 }, async () => {
    // mosquitto 2.0.11 with max_queued_messages 0 answers an ACL denial with PUBACK 0x87 and then
    // drops the client.
    const acl = path.join(tempDir(), 'acl');
    fs.writeFileSync(acl, 'topic write otsentry/plant-a/gw-1/status\ntopic write otsentry/plant-a/gw-1/assets\n');
    const b = await broker({ config: [`acl_file ${acl}`], unlimitedQueue: true });
    const box = outbox();
    box.append(drafts(2));
    const f = forwarder({ broker: brokerConfig(b.url, { reconnect_min_ms: 50, reconnect_max_ms: 100 }), outbox: box });
    f.start();
    // Both events and the delivery_refused signals about them, which are kept but not reported.
    await until(() => box.stats().refused >= 3 && box.depth() === 0, 30_000, 'the events and a signal refused');
    const refused = box.refused(10);
    expect(refused.filter((r) => r.rule !== REFUSED_RULE).map((r) => r.seq)).toEqual([1, 2]);
    expect(refused.every((r) => r.reason_code === 135)).toBe(true);
    const own = refused.filter((r) => r.rule === REFUSED_RULE).length;
    expect(own).toBeGreaterThanOrEqual(1);
    expect(own).toBeLessThanOrEqual(2);
    expect(box.stats().last_seq).toBe(2 + own);
  });

  it('keeps every event an ACL refuses (0x87) without dropping the connection or looping on its own signals', async () => {
    const dir = tempDir();
    const passwd = path.join(dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', passwd, 'agent', 's3cret']);
    const acl = path.join(dir, 'acl');
    fs.writeFileSync(acl, 'user agent\ntopic readwrite otsentry/plant-a/gw-1/status\ntopic write otsentry/plant-a/gw-1/assets\n');
    const b = await broker({ passwordFile: passwd, config: [`acl_file ${acl}`], unlimitedQueue: false });
    const status = await collect(b.url, STATUS, { username: 'agent', password: 's3cret' });
    cleanup.push(() => status.close());
    process.env.OTSENTRY_TEST_PW = 's3cret';
    cleanup.push(() => void delete process.env.OTSENTRY_TEST_PW);
    const box = outbox();
    box.append(drafts(10));
    const f = forwarder({ broker: brokerConfig(b.url, { username: 'agent', password: { env: 'OTSENTRY_TEST_PW' }, status_interval_ms: 1000 }), outbox: box });
    f.start();
    await until(() => box.stats().refused >= 11 && box.depth() === 0, 20_000, 'the events and a refusal signal to be refused');
    const refused = box.refused(100);
    const own = refused.filter((r) => r.rule === REFUSED_RULE);
    // Each signal reports refused events; none reports a refused signal, so it ends.
    expect(refused.filter((r) => r.rule !== REFUSED_RULE).map((r) => r.seq)).toEqual(range(1, 10));
    expect(own.length).toBeGreaterThanOrEqual(1);
    expect(own.length).toBeLessThanOrEqual(10);
    expect(refused.every((r) => r.reason_code === 135 && r.reason === 'Not authorized')).toBe(true);
    expect(box.stats().last_seq).toBe(10 + own.length);
    expect(f.stats()).toMatchObject({ connects: 1, acked: 0, refused: 10 + own.length });
    await status.waitFor(
      (m) => m.some((x) => JSON.parse(x.payload).delivery?.refused === 10 + own.length),
      10_000,
      'a status naming the refused events',
    );
    const last = JSON.parse(status.messages[status.messages.length - 1].payload);
    expect(last).toMatchObject({ state: 'online', delivery: { refused: 10 + own.length, oldest_refused_seq: 1 }, mqtt: { version: 5, refusals_reported: true } });
  });
});

describe('refused events (fake MQTT 5 broker)', () => {
  it('retries a quota refusal (0x97) after a backoff, before newer events, on the same connection', async () => {
    let quota = 2;
    const fb = await startFakeBroker((topic, payload) => (topic === EVENTS && JSON.parse(payload).seq === 3 && quota-- > 0 ? 0x97 : 0));
    cleanup.push(() => fb.close());
    const box = outbox();
    box.append(drafts(8));
    const f = forwarder({ broker: brokerConfig(fb.url, { max_inflight: 1, reconnect_min_ms: 50, reconnect_max_ms: 200 }), outbox: box });
    f.start();
    await until(() => box.depth() === 0, 10_000, 'the outbox to drain');
    const events = fb.publishes.filter((p) => p.topic === EVENTS).map((p) => [JSON.parse(p.payload).seq as number, p.reasonCode]);
    expect(events).toEqual([[1, 0], [2, 0], [3, 0x97], [3, 0x97], [3, 0], [4, 0], [5, 0], [6, 0], [7, 0], [8, 0]]);
    expect(f.stats()).toMatchObject({ retried: 2, refused: 0, connects: 1, acked: 8 });
    expect(box.stats().refused).toBe(0);
    expect(fb.connects).toBe(1);
  });

  it('keeps an event the broker answers by closing the connection, after three single-event losses in a row', async () => {
    const fb = await startFakeBroker((topic, payload) => (topic === EVENTS && JSON.parse(payload).seq === 3 ? 'close' : 0));
    cleanup.push(() => fb.close());
    const box = outbox();
    box.append(drafts(6));
    const { logger, lines } = captureLog();
    const f = forwarder({ broker: brokerConfig(fb.url, { reconnect_min_ms: 50, reconnect_max_ms: 100 }), outbox: box, logger });
    f.start();
    await until(() => box.depth() === 0 && box.stats().refused === 1, 20_000, 'seq 3 refused and the rest delivered');
    const reason = 'the broker closed the connection 3 times in a row while this event awaited its PUBACK';
    expect(box.refused(10)).toEqual([expect.objectContaining({ seq: 3, reason_code: -1, reason })]);
    // In the first window, then alone three times; then the rest and the refusal signal.
    const delivered = fb.publishes.filter((p) => p.topic === EVENTS && p.reasonCode === 0).map((p) => JSON.parse(p.payload) as RiskSignal);
    expect([...new Set(delivered.map((s) => s.seq))]).toEqual([1, 2, 4, 5, 6, 7]);
    expect(delivered.find((s) => s.seq === 7)).toMatchObject({ rule: REFUSED_RULE, evidence: { refused: [{ seq: 3, reason_code: -1, reason }] } });
    const closes = fb.publishes.filter((p) => p.reasonCode === 'close').length;
    expect(closes).toBeGreaterThanOrEqual(4);
    expect(fb.connects).toBe(closes + 1);
    expect(lines.filter((l) => l.error_code === 'puback_refused')).toHaveLength(1);
  });

  it('keeps a payload-format refusal (0x99), reports it once, and does not report its refused report', async () => {
    const fb = await startFakeBroker((topic, payload) => {
      if (topic !== EVENTS) return 0;
      const s = JSON.parse(payload) as RiskSignal;
      return s.seq === 4 || s.rule === REFUSED_RULE ? 0x99 : 0;
    });
    cleanup.push(() => fb.close());
    const box = outbox();
    box.append(drafts(6));
    const f = forwarder({ broker: brokerConfig(fb.url), outbox: box });
    f.start();
    await until(() => box.depth() === 0 && box.stats().refused === 2, 10_000, 'the event and its report to be refused');
    const sent = fb.publishes.filter((p) => p.topic === EVENTS).map((p) => JSON.parse(p.payload) as RiskSignal);
    expect(sent.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(sent[6]).toMatchObject({ rule: REFUSED_RULE, evidence: { refused: [{ seq: 4, reason_code: 0x99, reason: 'Payload format invalid' }] } });
    expect(box.refused(10).map((r) => [r.seq, r.reason_code])).toEqual([[4, 0x99], [7, 0x99]]);
    expect(f.stats()).toMatchObject({ connects: 1, acked: 5, refused: 2 });
    // Nothing more is sent: no signal about the refused signal.
    box.append(drafts(1));
    f.notify();
    await until(() => box.depth() === 0, 10_000, 'one more event');
    expect(fb.publishes.filter((p) => p.topic === EVENTS).map((p) => JSON.parse(p.payload).seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
