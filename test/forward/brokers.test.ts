// The embedded aedes broker (in process and as a child process) and the test broker helper:
// start on a free port, stop closes the port, restart reuses it. The child needs `npm run build`.
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../agent/broker/embedded.js';
import { Forwarder } from '../../agent/forward/index.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { collect, startTestBroker } from '../helpers/broker.js';
import { drafts, roomyLimits } from '../outbox/drafts.js';
import { brokerConfig, firstArrivals, range, until } from './fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('embedded broker', () => {
  it('serves MQTT 3.1.1 on a free port and stops with clients connected', async () => {
    const b = await startEmbeddedBroker({ port: 0 });
    expect(b.url).toBe(`mqtt://127.0.0.1:${b.port}`);
    const sub = await collect(b.url, 'x/#');
    const pub = await collect(b.url, 'unused');
    pub.client.publish('x/y', 'hello', { qos: 1 });
    await sub.waitFor((m) => m.length === 1, 5000, 'one message');
    await b.stop();
    expect(await listening(b.port)).toBe(false);
    await Promise.all([sub.close(), pub.close()]);
  });

  it('names a port in use', async () => {
    const a = await startEmbeddedBroker();
    cleanup.push(() => a.stop());
    await expect(startEmbeddedBroker({ port: a.port })).rejects.toThrow(`embedded broker: cannot listen on 127.0.0.1:${a.port} (EADDRINUSE); another process uses this port`);
  });
});

describe('test broker helper with aedes in a child process', () => {
  it('starts, stops, restarts on the same port, and the forwarder rides through', async () => {
    const b = await startTestBroker({ kind: 'aedes' });
    cleanup.push(() => b.stop());
    expect(b.kind).toBe('aedes');
    const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
    cleanup.push(() => box.close());
    // Hold connection attempts while the broker restarts, so the subscriber is there first.
    let gate: Promise<void> = Promise.resolve();
    let open: () => void = () => undefined;
    const connect = (url: string, o: IClientOptions): MqttClient => {
      const client = mqtt.connect(url, { ...o, manualConnect: true });
      void gate.then(() => client.connect());
      return client;
    };
    const f = new Forwarder({ broker: brokerConfig(b.url, { protocol_version: 4 }), agent: 'gw-1', site: 'plant-a', outbox: box, connect });
    cleanup.push(() => f.stop(500));
    f.start();
    box.append(drafts(10));
    f.notify();
    await until(() => box.depth() === 0, 10_000, 'first drain');
    gate = new Promise((resolve) => (open = resolve));
    await b.stop();
    expect(await listening(b.port)).toBe(false);
    box.append(drafts(10));
    f.notify();
    await b.restart();
    // aedes keeps nothing across a restart, so subscribe before the forwarder is let back in.
    const sub = await collect(b.url, 'otsentry/plant-a/gw-1/events');
    cleanup.push(() => sub.close());
    open();
    await sub.waitFor((m) => m.length >= 10, 10_000, 'the 10 events appended while the broker was down');
    expect(firstArrivals(sub.messages)).toEqual(range(11, 20));
    expect(f.stats().protocol_version).toBe(4);
  });
});
