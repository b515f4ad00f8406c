// `otsentry verify --broker`: a live subscription over mutual TLS and with a user name and
// password file, ended by --count or --duration; an unreachable broker is exit 1 with a clear line.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { distEntry, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../e2e/harness.js';
import { tempDir } from '../outbox/drafts.js';
import { agentKey, signedChain } from './fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let pki = '';
beforeAll(() => {
  pki = tempDir('otsentry-verify-pki-');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=otsentry verify test CA');
  fs.writeFileSync(path.join(pki, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const name of ['server', 'client']) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'soc-verifier'}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', 'san.ext');
  }
});

async function broker(opts: Parameters<typeof startTestBroker>[0]): Promise<TestBroker> {
  const b = await startTestBroker(opts);
  cleanup.push(() => b.stop());
  return b;
}

/** Run `otsentry verify` with these arguments; resolves on exit. `ready` resolves once subscribed. */
function verify(args: string[]): { ready: Promise<void>; done: Promise<{ code: number | null; out: string; err: string }> } {
  const child = spawn(process.execPath, [distEntry('agent/cli.js'), 'verify', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
  const ready = until(() => err.includes('otsentry: subscribed to') || child.exitCode !== null, 20_000, 'the subscription');
  return { ready, done };
}

/** Publish a signed chain and the retained status with its key, as an agent does. */
async function publishAgent(url: string, opts: IClientOptions, count: number): Promise<void> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, ...opts });
  await client.publishAsync('otsentry/plant-a/gw-1/status', JSON.stringify({ state: 'online', agent: 'gw-1', site: 'plant-a', signing_key: agentKey.info }), { qos: 1, retain: true });
  for (const s of signedChain(count)) await client.publishAsync('otsentry/plant-a/gw-1/events', JSON.stringify(s), { qos: 1 });
  await client.endAsync();
}

describe('otsentry verify --broker', () => {
  it('verifies signals received over mutual TLS, ending after --count events', { timeout: 60_000 }, async () => {
    const b = await broker({ config: [`cafile ${pki}/ca.crt`, `certfile ${pki}/server.crt`, `keyfile ${pki}/server.key`, 'require_certificate true'] });
    const url = `mqtts://127.0.0.1:${b.port}`;
    const tls = ['--tls-ca', `${pki}/ca.crt`, '--tls-cert', `${pki}/client.crt`, '--tls-key', `${pki}/client.key`];
    const v = verify(['--broker', url, ...tls, '--count', '4', '--json']);
    await v.ready;
    await publishAgent(url, { ca: fs.readFileSync(`${pki}/ca.crt`), cert: fs.readFileSync(`${pki}/client.crt`), key: fs.readFileSync(`${pki}/client.key`) }, 4);
    const r = await v.done;
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.agents[0]).toMatchObject({ site: 'plant-a', agent: 'gw-1', unique: 4, signatures_ok: 4, links_ok: 4 });
    expect(report.agents[0].keys[0]).toMatchObject({ key_id: agentKey.keyId, source: expect.stringMatching(/^status message/) });
  });

  it('logs in with --username and --password-file and stops after --duration', { timeout: 60_000 }, async () => {
    const dir = tempDir('otsentry-verify-auth-');
    const passwd = path.join(dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', passwd, 'soc', 's3cret']);
    const b = await broker({ passwordFile: passwd });
    const secret = path.join(dir, 'secret');
    fs.writeFileSync(secret, 's3cret\n', { mode: 0o600 });
    const v = verify(['--broker', b.url, '--username', 'soc', '--password-file', secret, '--duration', '3s']);
    await v.ready;
    await publishAgent(b.url, { username: 'soc', password: 's3cret' }, 3);
    const r = await v.done;
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('plant-a/gw-1: OK');
    expect(r.err).toContain('capturing until 3 s');
  });

  it('exits 1 naming the broker when it cannot be reached', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const r = await verify(['--broker', `mqtt://127.0.0.1:${port}`, '--count', '1']).done;
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`otsentry: broker mqtt://127\\.0\\.0\\.1:${port}: .*check --broker`));
    expect(r.err).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });
});
