// TLS and mutual TLS against mosquitto with certificates made by openssl in a temp dir, and the
// clear errors for an untrusted broker, a wrong name, a missing client certificate or passphrase.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Forwarder, ForwardError } from '../../agent/forward/index.js';
import type { BrokerConfig } from '../../agent/config/schema.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { collect, withoutMosquitto, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { drafts, roomyLimits, tempDir } from '../outbox/drafts.js';
import { brokerConfig, firstArrivals, range, until } from './fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let pki = '';
const PASSPHRASE = 'client-key-pass';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA, server cert for localhost/127.0.0.1, client cert with a passphrase-protected key. */
function makePki(): void {
  pki = tempDir('otsentry-pki-');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl('req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=otsentry test CA');
  fs.writeFileSync(path.join(pki, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-aes256', '-pass', `pass:${PASSPHRASE}`, '-out', 'client.key');
  openssl('req', '-new', '-key', 'client.key', '-passin', `pass:${PASSPHRASE}`, '-out', 'client.csr', '-subj', '/CN=gw-1');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
  openssl('pkey', '-in', 'client.key', '-passin', `pass:${PASSPHRASE}`, '-out', 'client-plain.key');
}

async function tlsBroker(mutual: boolean): Promise<TestBroker> {
  const config = [`cafile ${pki}/ca.crt`, `certfile ${pki}/server.crt`, `keyfile ${pki}/server.key`, `require_certificate ${mutual}`];
  const b = await startTestBroker({ config });
  cleanup.push(() => b.stop());
  return b;
}

function tlsUrl(b: TestBroker, host = '127.0.0.1'): string {
  return `mqtts://${host}:${b.port}`;
}

function outbox(): SqliteOutbox {
  const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
  cleanup.push(() => box.close());
  return box;
}

function forwarder(broker: BrokerConfig, box = outbox()): Forwarder {
  const f = new Forwarder({ broker, agent: 'gw-1', site: 'plant-a', outbox: box, baseDir: pki });
  cleanup.push(() => f.stop(500));
  return f;
}

async function subscriber(b: TestBroker, mutual: boolean) {
  const read = (f: string) => fs.readFileSync(path.join(pki, f));
  const sub = await collect(tlsUrl(b), 'otsentry/plant-a/gw-1/events', {
    ca: read('ca.crt'),
    ...(mutual ? { cert: read('client.crt'), key: read('client-plain.key') } : {}),
  });
  cleanup.push(() => sub.close());
  return sub;
}

describe.skipIf(withoutMosquitto('TLS (mosquitto)'))('TLS (mosquitto)', () => {
  beforeAll(makePki);

  it('delivers over TLS when the broker certificate is signed by ca_file', async () => {
    const b = await tlsBroker(false);
    const sub = await subscriber(b, false);
    const box = outbox();
    box.append(drafts(20));
    forwarder(brokerConfig(tlsUrl(b), { tls: { ca_file: 'ca.crt', reject_unauthorized: true } }), box).start();
    await sub.waitFor((m) => m.length >= 20, 10_000, '20 events');
    expect(firstArrivals(sub.messages)).toEqual(range(1, 20));
  });

  it('explains an untrusted broker certificate', async () => {
    const b = await tlsBroker(false);
    const f = forwarder(brokerConfig(tlsUrl(b), { tls: { reject_unauthorized: true } }));
    f.start();
    await until(() => f.stats().last_error !== undefined, 10_000, 'a TLS error');
    expect(f.stats().last_error?.code).toBe('tls_untrusted');
    expect(f.stats().last_error?.message).toMatch(
      new RegExp(`^TLS with broker mqtts://127\\.0\\.0\\.1:${b.port} failed .*set broker\\.tls\\.ca_file to the CA that signed it\\.$`),
    );
  });

  it('explains a certificate that does not name the host', async () => {
    const b = await tlsBroker(false);
    const f = forwarder(brokerConfig(tlsUrl(b), { tls: { ca_file: 'ca.crt', reject_unauthorized: true, servername: 'plc-broker.example' } }));
    f.start();
    await until(() => f.stats().last_error !== undefined, 10_000, 'a TLS error');
    expect(f.stats().last_error?.code).toBe('tls_name_mismatch');
    expect(f.stats().last_error?.message).toContain('set broker.tls.servername');
  });

  it('delivers over mutual TLS with a passphrase-protected client key', async () => {
    const b = await tlsBroker(true);
    const sub = await subscriber(b, true);
    process.env.OTSENTRY_TEST_KEY_PASS = PASSPHRASE;
    cleanup.push(() => void delete process.env.OTSENTRY_TEST_KEY_PASS);
    const box = outbox();
    box.append(drafts(20));
    const tls = { ca_file: 'ca.crt', cert_file: 'client.crt', key_file: 'client.key', key_passphrase: { env: 'OTSENTRY_TEST_KEY_PASS' }, reject_unauthorized: true };
    forwarder(brokerConfig(tlsUrl(b, 'localhost'), { tls }), box).start();
    await sub.waitFor((m) => m.length >= 20, 10_000, '20 events');
    expect(firstArrivals(sub.messages)).toEqual(range(1, 20));
  });

  it('explains a broker that wants a client certificate', async () => {
    const b = await tlsBroker(true);
    const f = forwarder(brokerConfig(tlsUrl(b), { tls: { ca_file: 'ca.crt', reject_unauthorized: true } }));
    f.start();
    await until(() => f.stats().last_error !== undefined && f.stats().attempts >= 2, 10_000, 'a TLS error');
    expect(f.stats().connected).toBe(false);
    expect(f.stats().last_error?.message).toMatch(/client certificate/);
  });

  it('refuses to start with a key it cannot decrypt', () => {
    process.env.OTSENTRY_TEST_KEY_PASS = 'wrong';
    cleanup.push(() => void delete process.env.OTSENTRY_TEST_KEY_PASS);
    const tls = { ca_file: 'ca.crt', cert_file: 'client.crt', key_file: 'client.key', reject_unauthorized: true };
    const box = outbox();
    const make = (t: BrokerConfig['tls']) => () => new Forwarder({ broker: brokerConfig('mqtts://127.0.0.1:8883', { tls: t }), agent: 'gw-1', site: 'plant-a', outbox: box, baseDir: pki });
    expect(make(tls)).toThrow(ForwardError);
    expect(make(tls)).toThrow(/broker\.tls\.key_file: cannot load the private key .*client\.key .*the key is encrypted: set broker\.tls\.key_passphrase\.$/);
    expect(make({ ...tls, key_passphrase: { env: 'OTSENTRY_TEST_KEY_PASS' } })).toThrow(/the key_passphrase does not decrypt it; check the secret\.$/);
    expect(make({ ...tls, ca_file: 'missing.crt' })).toThrow(`broker.tls.ca_file: cannot read ${pki}/missing.crt (ENOENT)`);
    expect(() => new Forwarder({ broker: brokerConfig('mqtt://127.0.0.1:1883', { tls }), agent: 'gw-1', site: 'plant-a', outbox: box, baseDir: pki })).toThrow(
      /broker\.tls is set but broker\.url mqtt:\/\/127\.0\.0\.1:1883 is not a TLS URL; use mqtts:\/\//,
    );
  });
});
