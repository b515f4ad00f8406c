// Forwarder against a real broker process: order, chain and fields of delivered events, the
// retained status and assets, a 5,000-event backlog with the in-flight window, a broker restart
// mid-run, and MQTT 3.1.1 only when configured (the embedded broker), never as a silent fallback.
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder, type ForwarderOptions } from '../../agent/forward/index.js';
import { SqliteOutbox, verifyChain } from '../../agent/outbox/index.js';
import { startEmbeddedBroker } from '../../agent/broker/embedded.js';
import { collect, withoutMosquitto, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { drafts, roomyLimits, tempDir } from '../outbox/drafts.js';
import { brokerConfig, captureLog, firstArrivals, range, signals, until } from './fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function broker(opts: Parameters<typeof startTestBroker>[0] = {}): Promise<TestBroker> {
  const b = await startTestBroker(opts);
  cleanup.push(() => b.stop());
  return b;
}

/** Broker config for a test broker: aedes (no mosquitto installed) speaks MQTT 3.1.1 only. */
function cfg(b: TestBroker, over: Parameters<typeof brokerConfig>[1] = {}) {
  return brokerConfig(b.url, { protocol_version: b.kind === 'aedes' ? 4 : 5, ...over });
}

async function subscriber(url: string, topic: string, opts: IClientOptions = {}): Promise<Collector> {
  const c = await collect(url, topic, opts);
  cleanup.push(() => c.close());
  return c;
}

function outbox(): SqliteOutbox {
  const box = SqliteOutbox.open({ file: path.join(tempDir(), 'outbox.sqlite'), agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
  cleanup.push(() => box.close());
  return box;
}

function forwarder(opts: Partial<ForwarderOptions> & Pick<ForwarderOptions, 'broker' | 'outbox'>): Forwarder {
  const f = new Forwarder({ agent: 'gw-1', site: 'plant-a', version: '9.9.9-test', ...opts });
  cleanup.push(() => f.stop(1000));
  return f;
}

const EVENTS = 'otsentry/plant-a/gw-1/events';
const STATUS = 'otsentry/plant-a/gw-1/status';
const ASSETS = 'otsentry/plant-a/gw-1/assets';

describe('forwarder', () => {
  it('delivers events in order with an unbroken chain and the DESIGN.md fields', async () => {
    const b = await broker();
    const sub = await subscriber(b.url, EVENTS);
    const box = outbox();
    const f = forwarder({ broker: cfg(b), outbox: box });
    f.start();
    for (let i = 0; i < 10; i++) {
      box.append(drafts(25));
      f.notify();
    }
    await sub.waitFor((m) => m.length >= 250, 20_000, '250 events');
    const got = signals(sub.messages);
    expect(got.map((s) => s.seq)).toEqual(range(1, 250));
    expect(verifyChain(got)).toEqual({ ok: true, problems: [] });
    const fields = ['v', 'id', 'seq', 'ts', 'agent', 'site', 'device', 'tag', 'rule', 'category', 'severity', 'state', 'score', 'message', 'observed', 'expected', 'evidence', 'prev_hash', 'hash', 'key_id', 'sig'];
    expect(Object.keys(got[0]).sort()).toEqual([...fields].sort());
    expect(sub.messages.every((m) => m.qos === 1 && !m.retain)).toBe(true);
    await until(() => box.depth() === 0, 5000, 'outbox to drain');
    expect(f.stats()).toMatchObject({ connected: true, acked: 250, inflight: 0, outbox_depth: 0, protocol_version: b.kind === 'aedes' ? 4 : 5 });
  });

  it('publishes retained online status and assets, and offline status on stop', async () => {
    const b = await broker();
    const box = outbox();
    box.append(drafts(3));
    let assets = { devices: [{ id: 'plc-1', vendor: 'Acme' }] };
    const f = forwarder({
      broker: cfg(b, { status_interval_ms: 1000 }),
      outbox: box,
      devices: () => ({ 'plc-1': { link: 'up' } }),
      assets: () => assets,
    });
    f.start();
    await until(() => f.stats().connected && box.depth() === 0, 10_000, 'connect and drain');
    // A late subscriber gets the retained messages.
    const status = await subscriber(b.url, STATUS);
    const inv = await subscriber(b.url, ASSETS);
    await status.waitFor((m) => m.length > 0, 5000, 'retained status');
    const online = JSON.parse(status.messages[0].payload) as Record<string, unknown>;
    expect(status.messages[0].retain).toBe(true);
    expect(online).toMatchObject({ state: 'online', agent: 'gw-1', site: 'plant-a', version: '9.9.9-test', devices: { 'plc-1': { link: 'up' } } });
    expect(typeof online.uptime_s).toBe('number');
    expect(typeof online.started_at).toBe('string');
    expect(online).toHaveProperty('outbox_depth');
    expect(online.delivery).toEqual({ refused: 0 });
    expect(online.mqtt).toEqual(b.kind === 'aedes' ? expect.objectContaining({ version: 4, refusals_reported: false }) : { version: 5, refusals_reported: true });
    // Refreshed every status_interval_ms.
    await status.waitFor((m) => m.length >= 2, 5000, 'periodic status');
    await inv.waitFor((m) => m.length > 0, 5000, 'retained assets');
    expect(JSON.parse(inv.messages[0].payload)).toEqual(assets);
    assets = { devices: [{ id: 'plc-1', vendor: 'Acme' }, { id: 'plc-2', vendor: 'Other' }] };
    f.publishAssets();
    await inv.waitFor((m) => m.some((x) => JSON.parse(x.payload).devices.length === 2), 5000, 'new assets');
    await f.stop();
    await status.waitFor((m) => JSON.parse(m[m.length - 1].payload).state === 'offline', 5000, 'offline status');
    expect(JSON.parse(status.messages[status.messages.length - 1].payload)).toMatchObject({ state: 'offline', reason: 'stopped', outbox_depth: 0 });
  });

  it('drains a 5,000-event backlog oldest first within the in-flight window', { timeout: 60_000 }, async () => {
    const b = await broker();
    const sub = await subscriber(b.url, EVENTS);
    const box = outbox();
    for (let i = 0; i < 50; i++) box.append(drafts(100));
    // Count publishes awaiting PUBACK on the wire side, independently of the forwarder's stats.
    let outstanding = 0;
    let peak = 0;
    const connect = (url: string, o: IClientOptions): MqttClient => {
      const client = mqtt.connect(url, o);
      const publish = client.publish.bind(client) as (...a: unknown[]) => MqttClient;
      (client as unknown as { publish: unknown }).publish = (topic: string, payload: string, opts: { qos: number }, cb: (e?: Error) => void) => {
        if (topic !== EVENTS) return publish(topic, payload, opts, cb);
        outstanding++;
        peak = Math.max(peak, outstanding);
        return publish(topic, payload, opts, (e?: Error) => {
          outstanding--;
          cb(e);
        });
      };
      return client;
    };
    const f = forwarder({ broker: cfg(b, { max_inflight: 16 }), outbox: box, connect });
    f.start();
    await sub.waitFor((m) => m.length >= 5000, 45_000, '5,000 events');
    expect(firstArrivals(sub.messages)).toEqual(range(1, 5000));
    expect(peak).toBeLessThanOrEqual(16);
    expect(peak).toBeGreaterThan(1);
    expect(f.stats().inflight_peak).toBeLessThanOrEqual(16);
    await until(() => box.depth() === 0, 10_000, 'outbox to drain');
  });

  // Needs mosquitto: the subscriber's session must survive the broker restart (persistence).
  it.skipIf(withoutMosquitto('broker restart mid-run'))('loses and reorders nothing when the broker restarts mid-run', { timeout: 60_000 }, async () => {
    const b = await broker({ persistence: true });
    // A persistent session keeps what the broker accepted while the subscriber was away.
    const sub = await subscriber(b.url, EVENTS, { clientId: 'restart-sub', clean: false });
    const box = outbox();
    const { logger, lines } = captureLog();
    const f = forwarder({ broker: cfg(b, { max_inflight: 32, reconnect_min_ms: 50, reconnect_max_ms: 400 }), outbox: box, logger });
    f.start();
    let appended = 0;
    const feed = setInterval(() => {
      box.append(drafts(20));
      appended += 20;
      f.notify();
    }, 10);
    cleanup.push(() => clearInterval(feed));
    await sub.waitFor((m) => m.length >= 500, 20_000, 'first 500 events');
    await b.stop();
    await new Promise((r) => setTimeout(r, 500));
    expect(f.stats().connected).toBe(false);
    await b.restart();
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(feed);
    await until(() => box.depth() === 0, 30_000, 'outbox to drain after restart');
    await sub.waitFor((m) => new Set(signals(m).map((s) => s.seq)).size >= appended, 30_000, `all ${appended} events`);
    expect(firstArrivals(sub.messages)).toEqual(range(1, appended));
    expect(f.stats().sent).toBeGreaterThanOrEqual(appended);
    expect(f.stats().connects).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => l.msg === 'Lost the broker connection; unacked events will be resent.')).toBe(true);
    expect(lines.some((l) => l.msg === 'Reconnected to the broker.')).toBe(true);
  });

  it('does not fall back to MQTT 3.1.1: a broker without MQTT 5 is an error naming protocol_version', async () => {
    const eb = await startEmbeddedBroker();
    cleanup.push(() => eb.stop());
    const box = outbox();
    box.append(drafts(3));
    const { logger, lines } = captureLog();
    const f = forwarder({ broker: brokerConfig(eb.url, { reconnect_min_ms: 100, reconnect_max_ms: 200 }), outbox: box, logger });
    f.start();
    await until(() => f.stats().attempts >= 3, 10_000, 'three connection attempts');
    expect(f.stats()).toMatchObject({ connected: false, connects: 0, protocol_version: 5 });
    expect(f.stats().last_error?.code).toBe('mqtt5_unsupported');
    const errors = lines.filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toMatch(/^Broker mqtt:\/\/127\.0\.0\.1:\d+ does not accept MQTT 5 \(CONNACK \d+: .+\); upgrade the broker, or set broker\.protocol_version: 4 to use MQTT 3\.1\.1, which cannot report a refused publish/);
    expect(box.depth()).toBe(3);
  });

  it('speaks MQTT 3.1.1 when configured, and says in the status what it cannot guarantee', async () => {
    const eb = await startEmbeddedBroker();
    cleanup.push(() => eb.stop());
    const sub = await subscriber(eb.url, EVENTS);
    const box = outbox();
    const f = forwarder({ broker: brokerConfig(eb.url, { protocol_version: 4 }), outbox: box });
    f.start();
    box.append(drafts(20));
    f.notify();
    await sub.waitFor((m) => m.length >= 20, 10_000, '20 events');
    expect(firstArrivals(sub.messages)).toEqual(range(1, 20));
    expect(f.stats()).toMatchObject({ protocol_version: 4, connects: 1, attempts: 1 });
    const status = await subscriber(eb.url, STATUS);
    await status.waitFor((m) => m.length > 0, 5000, 'retained status');
    expect(JSON.parse(status.messages[0].payload).mqtt).toEqual({
      version: 4,
      refusals_reported: false,
      warning: 'MQTT 3.1.1: the broker cannot report a refused publish; an event it refuses (e.g. by ACL) is acked as delivered and lost.',
    });
  });
});
