// Forwarder parts without a broker: backoff, error explanations, client options, topics, and
// the behaviour when nothing listens at the broker URL.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Backoff, Forwarder, defaultClientId, topicsFor } from '../../agent/forward/index.js';
import { explainError, explainPubackFailure } from '../../agent/forward/errors.js';
import { isTransientRefusal } from '../../agent/forward/refusals.js';
import { DropWatch } from '../../agent/forward/drops.js';
import { clientOptions, redactUrl } from '../../agent/forward/options.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { freePort } from '../helpers/ports.js';
import { roomyLimits, tempDir } from '../outbox/drafts.js';
import { brokerConfig, captureLog, until } from './fixtures.js';
import { parseConfigText } from '../../agent/config/load.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('Backoff', () => {
  it('doubles from min to max with 50-100 % jitter and resets', () => {
    const high = new Backoff(100, 1000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => high.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    high.reset();
    expect(high.next()).toBe(100);
    const low = new Backoff(100, 1000, () => 0);
    expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([100, 100, 200, 400, 500]);
  });
});

describe('explainError', () => {
  const url = 'mqtt://broker.plant:1883';
  it.each([
    [{ code: 134, message: 'Connection refused: Bad User Name or Password' }, 'bad_credentials', true],
    [{ code: 5, message: 'Connection refused: Not authorized' }, 'not_authorized', true],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, 'connection_refused', false],
    [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND' }, 'host_not_found', false],
    [{ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' }, 'tls_untrusted', true],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames" }, 'tls_name_mismatch', true],
    [{ message: 'connack timeout' }, 'connect_timeout', false],
  ])('classifies case %#', (err, code, refused) => {
    const ex = explainError(Object.assign(new Error(err.message), err), url, 5);
    expect(ex.code).toBe(code);
    expect(ex.refused).toBe(refused);
    expect(ex.message).toContain(url);
    expect(ex.message).toMatch(/; .+\.$/);
  });

  it('names the protocol_version fix and what 3.1.1 loses when a broker refuses MQTT 5', () => {
    for (const code of [1, 132]) {
      const ex = explainError(Object.assign(new Error('Connection refused: Unsupported Protocol Version'), { code }), url, 5);
      expect(ex).toMatchObject({ code: 'mqtt5_unsupported', refused: true });
      expect(ex.message).toBe(
        `Broker ${url} does not accept MQTT 5 (CONNACK ${code}: Unsupported Protocol Version); upgrade the broker, or set broker.protocol_version: 4 ` +
          'to use MQTT 3.1.1, which cannot report a refused publish: an event the broker refuses is acked as delivered and lost.',
      );
    }
    expect(explainError(Object.assign(new Error('Connection refused: Unacceptable protocol version'), { code: 1 }), url, 4).code).toBe('unsupported_protocol');
  });

  it('explains a refused PUBACK, permanent or transient', () => {
    const ex = explainPubackFailure(Object.assign(new Error('Publish error: Packet too large'), { code: 149 }), 'mqtt://b:1883', 42, false);
    expect(ex.message).toBe(
      'Broker mqtt://b:1883 refused event seq 42 (PUBACK 149: Packet too large); it is kept in the outbox as refused and delivery goes on; ' +
        'the event is larger than the broker accepts; raise its message_size_limit, then run `otsentry outbox retry --config FILE --seq 42`.',
    );
    const busy = explainPubackFailure(Object.assign(new Error('Publish error: Quota exceeded'), { code: 151 }), 'mqtt://b:1883', 7, true);
    expect(busy).toMatchObject({ code: 'puback_busy', refused: false });
    expect(busy.message).toBe('Broker mqtt://b:1883 refused event seq 7 (PUBACK 151: Quota exceeded); it is retried after a backoff, before any newer event.');
  });

  it('retries only quota, busy and packet-id-in-use refusals', () => {
    expect([0x80, 0x83, 0x87, 0x89, 0x90, 0x91, 0x95, 0x97, 0x99, 0xa0].filter(isTransientRefusal)).toEqual([0x89, 0x91, 0x97]);
  });
});

describe('client options', () => {
  it('defaults the client id, resolves the password file and leaves reconnecting to us', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'pw.txt'), 'hunter2\n', { mode: 0o600 });
    const o = clientOptions(brokerConfig('mqtt://b:1883', { username: 'u', password: { file: 'pw.txt' } }), 'plant-a', 'gw-1', dir);
    expect(o).toMatchObject({ clientId: 'otsentry-plant-a-gw-1', clean: true, reconnectPeriod: 0, keepalive: 30, connectTimeout: 3000, username: 'u', password: 'hunter2' });
    expect(defaultClientId('s', 'a')).toBe('otsentry-s-a');
    expect(topicsFor('otsentry', 'plant-a', 'gw-1')).toEqual({
      events: 'otsentry/plant-a/gw-1/events',
      status: 'otsentry/plant-a/gw-1/status',
      assets: 'otsentry/plant-a/gw-1/assets',
    });
  });

  it('names the missing secret', () => {
    expect(() => clientOptions(brokerConfig('mqtt://b:1883', { username: 'u', password: { env: 'OTSENTRY_NOPE_UNSET' } }), 's', 'a', '.')).toThrow(
      'broker.password: environment variable OTSENTRY_NOPE_UNSET is not set; export it before starting otsentry',
    );
  });
});

describe('forwarder without a broker', () => {
  it('logs connection refused once and backs off', async () => {
    const port = await freePort();
    const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
    cleanup.push(() => box.close());
    const { logger, lines } = captureLog();
    const f = new Forwarder({ broker: brokerConfig(`mqtt://127.0.0.1:${port}`, { reconnect_min_ms: 50, reconnect_max_ms: 200 }), agent: 'gw-1', site: 'plant-a', outbox: box, logger });
    cleanup.push(() => f.stop(200));
    f.start();
    await until(() => f.stats().attempts >= 5, 5000, 'five attempts');
    expect(f.stats().last_error).toMatchObject({ code: 'connection_refused' });
    const warnings = lines.filter((l) => l.level >= 40);
    expect(warnings.map((l) => l.msg)).toEqual([
      `Cannot reach broker mqtt://127.0.0.1:${port} (ECONNREFUSED); nothing listens there; check that the broker runs and the port in broker.url.`,
    ]);
  });

  it('times out a listener that never answers CONNECT', async () => {
    const server = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    server.on('connection', (s) => cleanup.push(() => void s.destroy()));
    const port = (server.address() as net.AddressInfo).port;
    const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
    cleanup.push(() => box.close());
    const f = new Forwarder({ broker: brokerConfig(`mqtt://127.0.0.1:${port}`, { connect_timeout_ms: 200 }), agent: 'gw-1', site: 'plant-a', outbox: box });
    cleanup.push(() => f.stop(200));
    f.start();
    await until(() => f.stats().attempts >= 2, 5000, 'a second attempt');
    expect(f.stats().last_error?.code).toBe('connect_timeout');
    expect(f.stats().last_error?.message).toContain('check that this port is an MQTT listener');
  });
});

describe('redactUrl', () => {
  it('masks credentials in a broker URL', () => {
    expect(redactUrl('mqtts://agent:s3cret@broker.plant:8883')).toBe('mqtts://***@broker.plant:8883');
    expect(redactUrl('mqtt://broker.plant:1883')).toBe('mqtt://broker.plant:1883');
  });
});

describe('broker.protocol_version', () => {
  const base = 'agent: { id: gw, site: s }\ndevices:\n  - { id: p, protocol: modbus, transport: { type: tcp, host: 127.0.0.1, port: 502 }, tags: [{ name: a, area: coil, address: 0 }] }\n';
  it('defaults to MQTT 5, takes 4, and names the choices otherwise', () => {
    expect(parseConfigText(`${base}broker: { url: "mqtt://h:1883" }\n`).config?.broker.protocol_version).toBe(5);
    expect(parseConfigText(`${base}broker: { url: "mqtt://h:1883", protocol_version: 4 }\n`).config?.broker.protocol_version).toBe(4);
    expect(parseConfigText(`${base}broker: { url: "mqtt://h:1883", protocol_version: 3 }\n`).problems).toEqual([
      { path: 'broker.protocol_version', message: 'use 5 (MQTT 5) or 4 (MQTT 3.1.1)' },
    ]);
  });
});

describe('DropWatch', () => {
  it('probes one event at a time after a loss and names an event lost three times alone', () => {
    const w = new DropWatch(3);
    expect(w.lost(new Set([4, 5, 6]))).toBeUndefined();
    expect(w.probing).toBe(true);
    expect(w.lost(new Set([4]))).toBeUndefined();
    expect(w.lost(new Set([4]))).toBeUndefined();
    expect(w.lost(new Set([4]))).toEqual({ seq: 4, closes: 3 });
    // Another event, or a PUBACK in between, starts the count again.
    expect(w.lost(new Set([5]))).toBeUndefined();
    w.acked();
    expect(w.probing).toBe(false);
    expect(w.lost(new Set())).toBeUndefined();
    expect(w.probing).toBe(false);
  });
});
