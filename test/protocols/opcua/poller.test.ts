// The OPC UA poller against the bundled simulator on free ports: the first-run trust flow over
// Basic256Sha256/SignAndEncrypt, trust on first use and a swapped certificate, read and
// subscription modes, bad NodeIds, wrong endpoints and logins answered clearly (and fast), X.509
// user logins, a server restart under the scheduler, and the read-only invariant.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../protocols/log.js';
import { DeviceScheduler, type CycleOutput } from '../../../agent/scheduler.js';
import { OpcuaPoller } from '../../../protocols/opcua/poller.js';
import { agentCertificateFile, agentPkiDir, ensureAgentCertificate, openCertificateManager, readPin } from '../../../protocols/opcua/pki.js';
import { runTrust } from '../../../protocols/opcua/trust.js';
import { copySample, type PollResult } from '../../../protocols/types.js';
import { RuleEngine } from '../../../rules/engine.js';
import { startOpcuaSimulator, type OpcuaSimulator } from '../../../simulators/opcua/index.js';
import { freePort } from '../../helpers/ports.js';
import { opcuaDevice, tankOpcuaTags, tempDir, trustBothWays } from './helpers.js';

let sim: OpcuaSimulator;
let url = '';
let oldUrl = '';
const open: { close(): Promise<unknown> }[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function poller(dev: ReturnType<typeof opcuaDevice>, dir: string): OpcuaPoller {
  const p = new OpcuaPoller(dev, { pkiDir: agentPkiDir(dir), logger: silentLogger });
  open.push(p);
  return p;
}

/** Poll until pred holds (the poller retries refused sessions on its backoff). */
async function pollUntil(p: OpcuaPoller, pred: (r: PollResult) => boolean, ms = 5000): Promise<PollResult> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await p.poll();
    if (pred(r)) return r;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms; last poll: ${JSON.stringify({ errors: r.errors, facts: r.facts.map((f) => f.kind) })}`);
    await sleep(100);
  }
}

const allGood = (r: PollResult) => r.errors.length === 0 && r.samples.length > 0 && r.samples.every((s) => s.quality === 'good');

beforeAll(async () => {
  sim = await startOpcuaSimulator({
    servers: [
      { id: 'ua-main', tick_ms: 100, sampling_ms: 20 },
      { id: 'ua-old', security_policies: ['Basic128Rsa15', 'Basic256'] },
    ],
  });
  url = sim.servers[0].endpoint_url;
  oldUrl = sim.servers[1].endpoint_url;
}, 30_000);

afterAll(async () => {
  for (const p of open) await p.close().catch(() => undefined);
  await sim?.stop();
});

describe('OPC UA poller against the simulator', () => {
  it('first run: refused until trusted both ways, then reads every tag over Basic256Sha256 SignAndEncrypt in one Read', async () => {
    const dir = tempDir('ua-first');
    const dev = opcuaDevice('ua-main', url, { tags: tankOpcuaTags() });
    const p = poller(dev, dir);
    const thumb = sim.servers[0].certificate!.thumbprint;
    await p.connect();
    expect(p.isConnected()).toBe(true); // the server answers; it is the trust that is missing
    let r = await p.poll();
    expect(r.errors[0].code).toBe('security');
    expect(r.errors[0].message).toMatch(new RegExp(`not trusted yet .*thumbprint ${thumb}.*otsentry trust --config FILE --device ua-main`));
    expect(r.samples.every((s) => s.quality === 'bad' && s.reason === 'security')).toBe(true);
    const posture = r.facts.find((f) => f.kind === 'posture');
    expect(posture?.data).toMatchObject({ session: 'refused', cert_thumbprint: thumb, anonymous: false });
    expect(fs.readdirSync(path.join(agentPkiDir(dir), 'rejected')).join()).toMatch(thumb); // shown where an operator looks

    // The operator confirms the thumbprint; the server still has to trust the agent.
    const lines: string[] = [];
    const wrong = await runTrust({ devices: [dev], pkiDir: agentPkiDir(dir), thumbprint: 'ab'.repeat(20), out: (l) => lines.push(l) });
    expect(wrong.untrusted).toEqual(['ua-main']);
    expect(lines.join('\n')).toMatch(/does not match/);
    const report = await runTrust({ devices: [dev], pkiDir: agentPkiDir(dir), thumbprint: thumb.toUpperCase().match(/../g)!.join(':'), out: (l) => lines.push(l) });
    expect(report.trusted).toEqual(['ua-main']);
    expect(readPin(agentPkiDir(dir), 'ua-main')).toMatchObject({ thumbprint: thumb, how: 'trust_command' });
    r = await pollUntil(p, (x) => /rejected the agent's application certificate/.test(x.errors[0]?.message ?? ''));
    expect(r.errors[0].message).toContain(agentCertificateFile(agentPkiDir(dir)));

    await sim.server('ua-main').trustClient(fs.readFileSync(agentCertificateFile(agentPkiDir(dir))));
    r = await pollUntil(p, allGood);
    expect(r.requests).toBe(1);
    expect(r.samples.map((s) => s.tag)).toEqual(dev.tags.map((t) => t.name));
    const plc = sim.server('ua-main').plc;
    const byTag = Object.fromEntries(r.samples.map((s) => [s.tag, s.value]));
    expect(byTag.level_high_sp).toBeCloseTo(3.5, 5);
    expect(byTag.mode).toBe(1);
    expect(typeof byTag.pump_running).toBe('boolean');
    expect(byTag.temperature as number).toBeCloseTo(plc.readTag('temperature'), 0);
    const facts = await p.readFacts(['identity']);
    expect(facts[0].data).toMatchObject({ vendor: 'otsentry simulators', product_code: 'urn:otsentry:sim:OTS-TANK-1', revision: '2.4.1', cert_thumbprint: thumb });
  });

  it('trust on first use pins the certificate; a swapped one is refused and reported in the posture audit', async () => {
    const dir = tempDir('ua-tofu');
    const cm = await openCertificateManager(agentPkiDir(dir));
    await sim.server('ua-main').trustClient(fs.readFileSync(await ensureAgentCertificate(cm)));
    await cm.dispose();
    const dev = opcuaDevice('ua-main', url, { trust_on_first_use: true, reconnect_max_ms: 200 });
    const p = poller(dev, dir);
    await p.connect();
    await pollUntil(p, allGood);
    const pinned = readPin(agentPkiDir(dir), 'ua-main')!;
    expect(pinned).toMatchObject({ how: 'first_use', thumbprint: sim.servers[0].certificate!.thumbprint });
    const run = await sim.startScenario('cert-swap', 'ua-main', {});
    try {
      const newThumb = sim.server('ua-main').info().certificate!.thumbprint;
      expect(newThumb).not.toBe(pinned.thumbprint);
      const r = await pollUntil(p, (x) => x.errors[0]?.code === 'security' && x.facts.some((f) => f.kind === 'posture'));
      expect(r.errors[0].message).toMatch(new RegExp(`changed: pinned ${pinned.thumbprint} .*now ${newThumb}.*refuses it`));
      expect(r.facts.find((f) => f.kind === 'posture')!.data).toMatchObject({ cert_thumbprint: newThumb, session: 'refused' });
    } finally {
      await run.stop();
    }
    await pollUntil(p, allGood); // the approved certificate is back
  });

  it('subscription mode hands out every change since the last poll and costs no request', async () => {
    const dir = tempDir('ua-sub');
    const dev = opcuaDevice('ua-main', url, {
      mode: 'subscription',
      subscription: { publishing_interval_ms: 50, sampling_interval_ms: 50 },
      tags: [...tankOpcuaTags(['heartbeat', 'level_high_sp']), { name: 'level', node_id: 'nsu=urn:otsentry:sim:tank;s=level', deadband: { type: 'absolute', value: 100 } }],
    });
    await trustBothWays(sim, 'ua-main', dir, dev);
    const p = poller(dev, dir);
    await p.connect();
    await pollUntil(p, (r) => r.samples.length >= 3);
    await sleep(700);
    const r = await p.poll();
    expect(r.requests).toBe(0);
    expect(r.errors).toEqual([]);
    const count = (tag: string) => r.samples.filter((s) => s.tag === tag).length;
    expect(count('heartbeat')).toBeGreaterThanOrEqual(4); // +1 every 100 ms tick
    expect(count('level_high_sp')).toBe(1); // unchanged: its current value, stamped with the poll time
    expect(count('level')).toBe(1); // deadband 100 m: noise is not reported
    const hb = r.samples.filter((s) => s.tag === 'heartbeat').map((s) => s.value as number);
    expect(hb).toEqual([...hb].sort((a, b) => a - b));
  });

  it('a bad NodeId or namespace makes only that tag bad, with a message that says what to fix', async () => {
    const dir = tempDir('ua-badnode');
    const dev = opcuaDevice('ua-main', url, {
      tags: [...tankOpcuaTags(['level']), { name: 'ghost', node_id: 'nsu=urn:otsentry:sim:tank;s=no_such_tag' }, { name: 'elsewhere', node_id: 'nsu=urn:other:plant;i=5' }],
    });
    await trustBothWays(sim, 'ua-main', dir, dev);
    const p = poller(dev, dir);
    await p.connect();
    const r = await p.poll();
    const by = Object.fromEntries(r.samples.map((s) => [s.tag, s]));
    expect(by.level.quality).toBe('good');
    expect(by.ghost).toMatchObject({ quality: 'bad', reason: 'BadNodeIdUnknown' });
    expect(by.elsewhere).toMatchObject({ quality: 'bad', reason: expect.stringMatching(/namespace urn:other:plant is not on the server/) });
    const msgs = r.errors.map((e) => `${e.code}: ${e.message}`).join('\n');
    expect(msgs).toMatch(/opcua_status: 1 tag answered BadNodeIdUnknown, the server has no such node; check node_id .*: ghost \(nsu=urn:otsentry:sim:tank;s=no_such_tag\)/);
    expect(msgs).toMatch(/elsewhere \(nsu=urn:other:plant;i=5\)/);
  });

  it('wrong endpoints, deprecated-only servers and wrong passwords are answered at once with the fix', async () => {
    const dir = tempDir('ua-wrong');
    const t0 = Date.now();
    const refused = poller(opcuaDevice('x', `opc.tcp://127.0.0.1:${await freePort()}`), dir);
    await expect(refused.connect()).rejects.toMatchObject({ code: 'connect_refused', message: expect.stringMatching(/nothing listens at opc.tcp:\/\/127.0.0.1:\d+ \(connection refused\); check endpoint_url/) });

    // A port that speaks something else (here: an HTTP-ish banner, then close).
    const sockets = new Set<net.Socket>();
    const other = net.createServer((s) => {
      sockets.add(s);
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    open.push({
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise((r) => other.close(r));
      },
    });
    const port = (other.address() as net.AddressInfo).port;
    const notUa = poller(opcuaDevice('y', `opc.tcp://127.0.0.1:${port}`, { connect_timeout_ms: 2000 }), dir);
    // Answered at once, so not a timeout: garbage (see garbage.test.ts for more kinds of it).
    await expect(notUa.connect()).rejects.toMatchObject({
      code: 'bad_response',
      message: expect.stringMatching(new RegExp(`127.0.0.1:${port} did not answer as an OPC UA server .*; check the port in endpoint_url`)),
    });

    const old = poller(opcuaDevice('ua-old', oldUrl), dir);
    await old.connect();
    const r = await old.poll();
    expect(r.errors[0].message).toMatch(/offers no Basic256Sha256\/SignAndEncrypt endpoint \(it offers: Basic128Rsa15\/Sign.*Basic256\/SignAndEncrypt\).*deprecated.*Node 20/);
    expect(r.facts.find((f) => f.kind === 'posture')!.data.security_policies).toEqual(['Basic128Rsa15', 'Basic256']);

    const dev = opcuaDevice('ua-main', url, { auth: { type: 'username', username: 'otsentry', password: { env: 'OTSENTRY_TEST_WRONG_PW' } } });
    process.env.OTSENTRY_TEST_WRONG_PW = 'not-the-password';
    await trustBothWays(sim, 'ua-main', dir, dev);
    const wrongPw = poller(dev, dir);
    await wrongPw.connect();
    expect((await wrongPw.poll()).errors[0].message).toMatch(/refused the login as otsentry \(Bad\w+\); check auth/);
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  it('logs in with an X.509 user certificate', async () => {
    const dir = tempDir('ua-x509');
    const userPki = path.join(dir, 'user');
    const cm = await openCertificateManager(userPki);
    const certFile = path.join(userPki, 'operator.pem');
    await cm.createSelfSignedCertificate({ applicationUri: 'urn:otsentry:test:operator', subject: '/CN=operator', startDate: new Date(), validity: 30, outputFile: certFile, dns: [] });
    await cm.dispose();
    await sim.server('ua-main').trustUser(fs.readFileSync(certFile));
    const dev = opcuaDevice('ua-main', url, { auth: { type: 'certificate', cert_file: certFile, key_file: path.join(userPki, 'own/private/private_key.pem') } });
    await trustBothWays(sim, 'ua-main', dir, dev);
    const p = poller(dev, dir);
    await p.connect();
    expect(allGood(await p.poll())).toBe(true);
  });

  it('a server restart mid-run: the agent reconnects and subscribes again, and an alert open across it is neither lost nor raised twice', async () => {
    const dir = tempDir('ua-restart');
    const dev = opcuaDevice('ua-main', url, { mode: 'subscription', interval_ms: 200, subscription: { publishing_interval_ms: 50, sampling_interval_ms: 50 }, tags: tankOpcuaTags(['level', 'level_high_sp']) });
    await trustBothWays(sim, 'ua-main', dir, dev);
    const engine = new RuleEngine(
      [
        { id: 'range', type: 'range', device: 'ua-main', tag: 'level', max: 5 },
        { id: 'link', type: 'availability', device: 'ua-main', rtt_check: false, down_after_polls: 1 },
      ],
      [{ id: 'ua-main', tags: dev.tags }],
    );
    const cycles: CycleOutput[] = [];
    const findings: string[] = [];
    const sched = new DeviceScheduler(
      poller(dev, dir),
      dev,
      (c) => {
        cycles.push({ ...c, samples: c.samples.map(copySample) }); // kept past the cycle: a copy
        for (const x of c.samples) for (const f of engine.onSample(x)) findings.push(`${f.rule}:${f.active ? 'raised' : 'cleared'}`);
        for (const x of c.facts) for (const f of engine.onFact(x)) findings.push(`${f.rule}:${f.active ? 'raised' : 'cleared'}`);
      },
      silentLogger,
    );
    sched.start();
    open.push({ close: () => sched.stop() });
    const waitFor = async (pred: () => boolean, what: string) => {
      const end = Date.now() + 15_000;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`${what} did not happen; findings ${findings.join(', ')}; last links: ${JSON.stringify(cycles.slice(-3).map((c) => c.facts.filter((f) => f.kind === 'link')))}`);
        await sleep(50);
      }
    };
    const goodSince = (i: number) => cycles.slice(i).filter((c) => c.samples.some((x) => x.quality === 'good')).length;
    await waitFor(() => goodSince(0) >= 2, 'first good cycles');
    const spoof = await sim.startScenario('sensor-spoof', 'ua-main', { tags: ['level'], mode: 'out_of_range', period_ms: 600_000 });
    await waitFor(() => findings.includes('range:raised'), 'the spoofed level');
    // the port stays closed until the agent saw the outage, so a loaded machine cannot hide it between two polls
    await sim.server('ua-main').restart(() => waitFor(() => findings.includes('link:raised'), 'the outage'));
    await waitFor(() => findings.includes('link:cleared'), 'the way back');
    const back = cycles.length;
    await waitFor(() => goodSince(back) >= 3, 'good cycles after the restart');
    const outage = cycles.filter((c) => c.facts.some((f) => f.kind === 'link' && f.data.reachable === false));
    expect(outage.every((c) => c.samples.every((x) => x.quality === 'bad'))).toBe(true); // no stale value passes as good
    await spoof.stop();
    await waitFor(() => findings.includes('range:cleared'), 'the level back in range');
    await sched.stop();
    expect(findings.filter((f) => f.startsWith('range:'))).toEqual(['range:raised', 'range:cleared']);
    expect(findings.filter((f) => f.startsWith('link:'))).toEqual(['link:raised', 'link:cleared']);
  });

  it('is read-only: no write or call on its surface, and a whole session sends only reads, discovery and subscriptions', async () => {
    const names = new Set<string>();
    for (let o: object | null = OpcuaPoller.prototype; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) for (const k of Reflect.ownKeys(o)) names.add(String(k));
    expect([...names].filter((n) => /write|call|method/i.test(n))).toEqual([]);
    const dir = path.resolve(import.meta.dirname, '../../../protocols/opcua');
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      const src = fs.readFileSync(path.join(dir, f), 'utf8');
      expect(src, f).not.toMatch(/\.(write|writeSingleNode|call|callMethod|writeValue)\(|WriteRequest|CallRequest|addNodes|deleteNodes|historyUpdate/);
    }
    const seen = new Set<string>();
    const stop = sim.server('ua-main').onRequest((t) => seen.add(t));
    try {
      const tmp = tempDir('ua-readonly');
      for (const mode of ['read', 'subscription'] as const) {
        const dev = opcuaDevice('ua-main', url, { mode, posture_interval_ms: 1, diagnostics_interval_ms: 1000, subscription: { publishing_interval_ms: 50, sampling_interval_ms: 50 } });
        await trustBothWays(sim, 'ua-main', tmp, dev);
        const p = poller(dev, tmp);
        await p.connect();
        await p.poll();
        await p.readFacts(['identity', 'diagnostics']);
        await sleep(200);
        await p.poll();
        await p.close();
      }
    } finally {
      stop();
    }
    const allowed = ['GetEndpointsRequest', 'CreateSessionRequest', 'ActivateSessionRequest', 'ReadRequest', 'CreateSubscriptionRequest', 'CreateMonitoredItemsRequest', 'PublishRequest', 'DeleteSubscriptionsRequest', 'CloseSessionRequest'];
    expect([...seen].filter((t) => !allowed.includes(t))).toEqual([]);
    expect(seen).toContain('ReadRequest');
    expect(seen).toContain('CreateMonitoredItemsRequest');
  });
});
