// The SIEM output over TLS to a real rsyslog (gtls driver) with certificates made by openssl in a
// temp dir: server-authenticated TLS, mutual TLS with a passphrase-protected client key, and the
// clear error (and no cursor movement) for a collector certificate no configured CA signed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cursorNames } from '../../../agent/central/siem/output.js';
import { SimAgent } from '../../../bench/central/simagent.js';
import { parse5424, parseCef } from './cefparse.js';
import { addSignals, captureLog, makeOutput, outputConfig, tempStore, until } from './fixtures.js';
import { Rsyslog, RSYSLOGD, rsyslogHasTls } from '../../../bench/central/rsyslog.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let pki = '';
const PASSPHRASE = 'siem-client-pass';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA, collector cert for localhost/127.0.0.1, client cert with a passphrase-protected key. */
function makePki(): void {
  pki = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-siem-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl('req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=otsentry siem test CA');
  fs.writeFileSync(path.join(pki, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  fs.writeFileSync(path.join(pki, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-aes256', '-pass', `pass:${PASSPHRASE}`, '-out', 'client.key');
  openssl('req', '-new', '-key', 'client.key', '-passin', `pass:${PASSPHRASE}`, '-out', 'client.csr', '-subj', '/CN=central-a');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2', '-extfile', 'client.ext');
}

async function setup(mutual: boolean) {
  const rs = await Rsyslog.start({ ca: path.join(pki, 'ca.crt'), cert: path.join(pki, 'server.crt'), key: path.join(pki, 'server.key'), mutual });
  cleanup.push(() => rs.close());
  const t = await tempStore();
  cleanup.push(() => t.close());
  return { rs, store: t.store };
}

describe.skipIf(RSYSLOGD === undefined || !rsyslogHasTls())('SIEM output over TLS (rsyslog gtls)', () => {
  beforeAll(makePki);
  afterAll(() => fs.rmSync(pki, { recursive: true, force: true }));

  it('delivers over TLS when the collector certificate is signed by tls.ca_file', async () => {
    const { rs, store } = await setup(false);
    const sent = await addSignals(store, new SimAgent('plant-a', 'gw-1'), 25);
    const out = makeOutput(store, outputConfig({ name: 'tls', port: rs.port, tls: { ca_file: 'ca.crt' } }), { baseDir: pki });
    await out.start();
    cleanup.push(() => out.stop());
    const lines = await rs.waitForLines(25);
    expect(lines.map((l) => parseCef(parse5424(l).msg).ext.externalId)).toEqual(sent.map((s) => s.signal.id));
  });

  it('delivers over mutual TLS with a passphrase-protected client key', async () => {
    const { rs, store } = await setup(true);
    process.env.OTSENTRY_TEST_SIEM_KEY_PASS = PASSPHRASE;
    cleanup.push(() => void delete process.env.OTSENTRY_TEST_SIEM_KEY_PASS);
    const sent = await addSignals(store, new SimAgent('plant-a', 'gw-1'), 25);
    const tls = { ca_file: 'ca.crt', cert_file: 'client.crt', key_file: 'client.key', key_passphrase: { env: 'OTSENTRY_TEST_SIEM_KEY_PASS' }, servername: 'localhost' };
    const out = makeOutput(store, outputConfig({ name: 'mtls', port: rs.port, tls }), { baseDir: pki });
    await out.start();
    cleanup.push(() => out.stop());
    const lines = await rs.waitForLines(25);
    expect(lines.map((l) => parseCef(parse5424(l).msg).ext.externalId)).toEqual(sent.map((s) => s.signal.id));
  });

  it('explains an untrusted collector certificate and keeps its cursor', async () => {
    const { rs, store } = await setup(false);
    await addSignals(store, new SimAgent('plant-a', 'gw-1'), 5);
    const { log, lines } = captureLog();
    const out = makeOutput(store, outputConfig({ name: 'tls', port: rs.port, tls: {} }), { baseDir: pki, log });
    await out.start();
    cleanup.push(() => out.stop());
    await until(() => out.stats.last_error !== undefined, 'a TLS error');
    expect(out.stats.last_error?.code).toBe('tls_untrusted');
    const down = lines.find((l) => /is down/.test(l.msg));
    expect(down?.msg).toMatch(new RegExp(`^SIEM output tls is down: siem\\[0\\] \\(tls\\) at 127\\.0\\.0\\.1:${rs.port} \\(TLS\\): TLS failed \\(.*\\); the collector's certificate is not signed by a trusted CA; set tls\\.ca_file to the CA that signed it\\. 5 events wait in the store and are sent when it is back\\.$`));
    expect(await store.getCursor(cursorNames('tls').signals)).toBe(0);
    expect(rs.lines()).toEqual([]);
  });

  it('refuses to start with a client key it cannot decrypt, naming the setting', () => {
    delete process.env.OTSENTRY_TEST_SIEM_KEY_PASS;
    const cfg = outputConfig({ name: 'mtls', port: 6514, tls: { ca_file: 'ca.crt', cert_file: 'client.crt', key_file: 'client.key' } });
    expect(() => makeOutput(undefined as never, cfg, { baseDir: pki })).toThrow(/^siem\[0\]\.tls\.key_file: cannot load the private key .*client\.key .*the key is encrypted: set siem\[0\]\.tls\.key_passphrase\.$/);
    expect(() => makeOutput(undefined as never, { ...cfg, tls: { ...cfg.tls!, ca_file: 'missing.crt' } }, { baseDir: pki })).toThrow(`siem[0].tls.ca_file: cannot read ${pki}/missing.crt (ENOENT)`);
  });
});
