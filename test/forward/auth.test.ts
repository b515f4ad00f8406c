// Brokers that say no: bad credentials give one clear error naming the broker and the fix, then
// backoff (no crash loop); a PUBACK with a failure reason code never acks the event.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder } from '../../agent/forward/index.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { collect, withoutMosquitto, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { drafts, roomyLimits, tempDir } from '../outbox/drafts.js';
import { brokerConfig, captureLog, firstArrivals, range, until } from './fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function brokerWithPassword(config: string[] = [], unlimitedQueue = true): Promise<TestBroker> {
  const dir = tempDir();
  const passwd = path.join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-b', '-c', passwd, 'agent', 's3cret']);
  const b = await startTestBroker({ passwordFile: passwd, config, unlimitedQueue });
  cleanup.push(() => b.stop());
  return b;
}

function outbox(): SqliteOutbox {
  const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
  cleanup.push(() => box.close());
  return box;
}

describe.skipIf(withoutMosquitto('refusing brokers (mosquitto)'))('refusing brokers (mosquitto)', () => {
  it('reports bad credentials once, clearly, and keeps retrying with backoff', async () => {
    const b = await brokerWithPassword();
    process.env.OTSENTRY_TEST_PW = 'wrong';
    cleanup.push(() => void delete process.env.OTSENTRY_TEST_PW);
    const { logger, lines } = captureLog();
    const box = outbox();
    box.append(drafts(5));
    const f = new Forwarder({
      broker: brokerConfig(b.url, { username: 'agent', password: { env: 'OTSENTRY_TEST_PW' }, reconnect_min_ms: 100, reconnect_max_ms: 800 }),
      agent: 'gw-1',
      site: 'plant-a',
      outbox: box,
      logger,
    });
    cleanup.push(() => f.stop(500));
    f.start();
    await until(() => f.stats().attempts >= 4, 10_000, 'four connection attempts');
    const stats = f.stats();
    expect(stats.connected).toBe(false);
    // mosquitto answers a wrong password with 135 "not authorized" (MQTT 5), others with 134.
    expect(stats.last_error?.code).toBe('not_authorized');
    expect(stats.last_error?.message).toBe(
      `Broker ${b.url} refused the connection (CONNACK 135: Not authorized); ` +
        'the broker does not authorise this client; check broker.username, the broker.password secret and the broker ACL for this client id.',
    );
    const errors = lines.filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ error_code: 'not_authorized', broker: b.url });
    expect(JSON.stringify(lines)).not.toContain('wrong');
    // Backoff: 4 attempts need at least 100 + 100 + 200 ms of waiting.
    const t0 = Date.now();
    const a0 = f.stats().attempts;
    await new Promise((r) => setTimeout(r, 1500));
    expect(f.stats().attempts - a0).toBeLessThanOrEqual(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(box.depth()).toBe(5);
  });

  it('delivers with the right password', async () => {
    const b = await brokerWithPassword();
    const secret = path.join(tempDir(), 'pw');
    fs.writeFileSync(secret, 's3cret\n', { mode: 0o600 });
    const sub = await collect(b.url, 'otsentry/plant-a/gw-1/events', { username: 'agent', password: 's3cret' });
    cleanup.push(() => sub.close());
    const box = outbox();
    box.append(drafts(10));
    const f = new Forwarder({
      broker: brokerConfig(b.url, { username: 'agent', password: { file: 'pw' } }),
      baseDir: path.dirname(secret),
      agent: 'gw-1',
      site: 'plant-a',
      outbox: box,
    });
    cleanup.push(() => f.stop(500));
    f.start();
    await sub.waitFor((m) => m.length >= 10, 10_000, '10 events');
    expect(firstArrivals(sub.messages)).toEqual(range(1, 10));
  });

  it('does not ack events the broker refuses in PUBACK (MQTT 5 reason code): kept as refused', async () => {
    const acl = path.join(tempDir(), 'acl');
    // The agent may publish status and assets but not events.
    fs.writeFileSync(acl, 'user agent\ntopic write otsentry/plant-a/gw-1/status\ntopic write otsentry/plant-a/gw-1/assets\n');
    const b = await brokerWithPassword([`acl_file ${acl}`], false);
    process.env.OTSENTRY_TEST_PW = 's3cret';
    cleanup.push(() => void delete process.env.OTSENTRY_TEST_PW);
    const { logger, lines } = captureLog();
    const box = outbox();
    box.append(drafts(5));
    const f = new Forwarder({
      broker: brokerConfig(b.url, { username: 'agent', password: { env: 'OTSENTRY_TEST_PW' }, reconnect_min_ms: 100, reconnect_max_ms: 400 }),
      agent: 'gw-1',
      site: 'plant-a',
      outbox: box,
      logger,
    });
    cleanup.push(() => f.stop(500));
    f.start();
    await until(() => box.stats().refused >= 5 && box.depth() === 0, 10_000, 'five refused events').catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(f.stats())}`);
    });
    expect(f.stats()).toMatchObject({ acked: 0, connects: 1 });
    expect(box.refused(5).map((r) => r.seq)).toEqual(range(1, 5));
    expect(f.stats().last_error?.code).toBe('puback_refused');
    const err = lines.find((l) => l.error_code === 'puback_refused');
    expect(err?.msg).toMatch(
      new RegExp(`^Broker ${b.url.replace(/\./g, '\\.')} refused event seq 1 \\(PUBACK 135: Not authorized\\); it is kept in the outbox as refused and delivery goes on; the broker's ACL does not allow publishing to the events topic`),
    );
  });
});
