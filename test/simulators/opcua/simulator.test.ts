// The OPC UA simulator on its own: config problems reported at once, the command line (flags,
// printed lines, usage errors), the separate-process runner, the timeline, and the security
// scenarios as a client sees them through discovery.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../protocols/log.js';
import { openCertificateManager } from '../../../protocols/opcua/pki.js';
import { discoverEndpoints, summarizeEndpoints } from '../../../protocols/opcua/session.js';
import { simulateOpcua } from '../../../agent/cli/simulate-opcua.js';
import { OPCUA_SCENARIO_NAMES, parseOpcuaSimConfig, startOpcuaSimulator, type OpcuaSimulator } from '../../../simulators/opcua/index.js';
import { distEntry } from '../../helpers/broker.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-uasim-'));

describe('OPC UA simulator config', () => {
  it('reports every problem at once, with its place', () => {
    let message = '';
    try {
      parseOpcuaSimConfig({
        servers: [
          { id: 'a', security_policies: ['Basic999'] },
          { id: 'a', port: 4840 },
          { id: 'b', port: 4840, security_modes: ['None'] },
        ],
        scenarios: [
          { name: 'nope', server: 'a' },
          { name: 'cert-swap', server: 'zz' },
          { name: 'clock-drift', server: 'a', params: { offset_ms: 'soon' } },
        ],
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/servers\[0\]\.security_policies\[0\]: Invalid option/);
    expect(message).toMatch(/servers\[1\]\.id: duplicate id a/);
    expect(message).toMatch(/servers\[2\]\.port: 127.0.0.1:4840 is already used by servers\[1\]/);
    expect(message).toMatch(/servers\[2\]\.security_modes: security policies other than None need the Sign or SignAndEncrypt mode/);
    expect(message).toMatch(/scenarios\[0\]\.name: unknown scenario nope; known: setpoint-tamper/);
    expect(message).toMatch(/scenarios\[1\]\.server: no server with id zz/);
    expect(message).toMatch(/scenarios\[2\]\.params\.offset_ms: Invalid input/);
  });

  it('offers the Modbus process attacks and the OPC UA security scenarios', () => {
    expect(OPCUA_SCENARIO_NAMES).toEqual(['setpoint-tamper', 'firmware-swap', 'sensor-spoof', 'sensor-freeze', 'pump-toggle', 'server-offline', 'insecure-endpoint', 'anonymous-enabled', 'cert-swap', 'clock-drift']);
  });
});

describe('OPC UA simulator servers', () => {
  let sim: OpcuaSimulator;
  const lines: string[] = [];
  beforeAll(async () => {
    sim = await simulateOpcua({ servers: 1, port: 0, scenario: 'clock-drift', at: '0s', duration: '300ms', logger: silentLogger, out: (l) => lines.push(l), pkiDir: path.join(tmp, 'pki') });
  }, 30_000);
  afterAll(async () => {
    await sim?.stop();
  });

  it('prints what a client needs and runs the timeline', async () => {
    const s = sim.servers[0];
    expect(lines[0]).toBe(
      `opcua server tank-ua-1 listening on ${s.endpoint_url} (model tank, namespace urn:otsentry:sim:tank, Basic256Sha256/Aes128_Sha256_RsaOaep/Aes256_Sha256_RsaPss Sign/SignAndEncrypt; user otsentry / password otsentry-sim)`,
    );
    expect(lines[1]).toMatch(new RegExp(`certificate thumbprint ${s.certificate!.thumbprint}; PKI ${path.join(tmp, 'pki', 'tank-ua-1')}; trusts no client yet`));
    expect(lines).toContain('scenario clock-drift on tank-ua-1 at 0s for 0.3s');
    expect(fs.existsSync(path.join(tmp, 'pki', 'tank-ua-1', 'server', 'own', 'certs'))).toBe(true);
    await sim.timeline.done;
    expect(sim.activeScenarios()).toEqual([]);
  });

  it('the security scenarios change what discovery shows, and undo it', async () => {
    const cm = await openCertificateManager(path.join(tmp, 'client-pki'));
    const url = sim.servers[0].endpoint_url;
    const look = async () => {
      const eps = summarizeEndpoints(await discoverEndpoints(cm, url, 5000));
      return { policies: [...new Set(eps.map((e) => `${e.security_policy}/${e.security_mode}`))].sort(), anonymous: eps.some((e) => e.user_tokens.includes('anonymous')) };
    };
    try {
      const before = await look();
      expect(before.anonymous).toBe(false);
      expect(before.policies).not.toContain('None/None');
      const insecure = await sim.startScenario('insecure-endpoint', 'tank-ua-1');
      const old = await sim.startScenario('insecure-endpoint', 'tank-ua-1', { policy: 'Basic128Rsa15' });
      const anon = await sim.startScenario('anonymous-enabled', 'tank-ua-1');
      const during = await look();
      expect(during.policies).toEqual(expect.arrayContaining(['None/None', 'Basic128Rsa15/Sign']));
      expect(during.anonymous).toBe(true);
      await Promise.all([insecure.stop(), old.stop(), anon.stop()]);
      expect(await look()).toEqual(before);
      await expect(sim.startScenario('cert-swap', 'tank-ua-1', { validity_days: 0 })).rejects.toThrow(/params\.validity_days/);
      await expect(sim.startScenario('nope', 'tank-ua-1')).rejects.toThrow(/unknown scenario nope; known: setpoint-tamper/);
    } finally {
      await cm.dispose();
    }
  });

  it('`otsentry trust` shows the certificate, trusts it only with the right thumbprint, and says what the server needs', async () => {
    const s = sim.servers[0];
    const dir = path.join(tmp, 'agent');
    const config = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(
      config,
      [
        'agent: { id: gw, site: lab, data_dir: ./agent }',
        'broker: { url: "mqtt://127.0.0.1:1883" }',
        'devices:',
        `  - { id: ua, protocol: opcua, endpoint_url: "${s.endpoint_url}", tags: [{ name: level, node_id: "nsu=urn:otsentry:sim:tank;s=level" }] }`,
      ].join('\n'),
    );
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [distEntry('agent/cli.js'), 'trust', '--config', config, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const first = await cli([]);
    expect(first.code).toBe(1);
    expect(first.out).toContain(`thumbprint  ${s.certificate!.thumbprint}`);
    expect(first.out).toContain(`otsentry trust --config FILE --device ua --thumbprint ${s.certificate!.thumbprint}`);
    expect(first.out).toMatch(/otsentry: 1 of 1 server certificate not trusted \(ua\); see above/);
    expect(first.out).toContain(`agent certificate: ${path.join(dir, 'pki', 'own', 'certs', 'client_certificate.pem')}`);
    const ok = await cli(['--device', 'ua', '--thumbprint', s.certificate!.thumbprint]);
    expect(ok.out).toMatch(/trusted and pinned/);
    expect(ok.code).toBe(0);
    expect((await cli(['--device', 'nope'])).out).toMatch(/otsentry: --device nope: no such device; OPC UA devices: ua/);
  });

  it('refuses a port in use with the fix', async () => {
    const port = sim.servers[0].port;
    await expect(startOpcuaSimulator({ servers: [{ id: 'p2', port, model: { type: 'bench', registers: 2 } }] })).rejects.toThrow(
      new RegExp(`servers\\[0\\] \\(p2\\): cannot listen on 127.0.0.1:${port} \\(EADDRINUSE\\); pick another port, or 0 for a free one`),
    );
  });

  it('refuses bad flags with the fix', async () => {
    await expect(simulateOpcua({ model: 'boiler', logger: silentLogger, out: () => undefined })).rejects.toThrow('--model boiler: use tank or bench');
    await expect(simulateOpcua({ scenario: 'plc-offline', logger: silentLogger, out: () => undefined })).rejects.toThrow(/--scenario plc-offline: unknown; use one of .*server-offline/);
    await expect(simulateOpcua({ servers: 0, logger: silentLogger, out: () => undefined })).rejects.toThrow('--servers 0: give a whole number from 1 to 100');
  });
});

describe('OPC UA simulator child process', () => {
  it('prints one ready line, serves, and exits 0 on SIGTERM', async () => {
    const file = path.join(tmp, 'child.json');
    fs.writeFileSync(file, JSON.stringify({ servers: [{ id: 'bench-ua-1', model: { type: 'bench', registers: 10 } }] }));
    const child = spawn(process.execPath, [distEntry('simulators/opcua/child.js'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const first = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
    const ready = JSON.parse(first) as { ready: boolean; servers: { id: string; endpoint_url: string }[] };
    expect(ready).toMatchObject({ ready: true, servers: [{ id: 'bench-ua-1', endpoint_url: expect.stringMatching(/^opc\.tcp:\/\/127\.0\.0\.1:\d+$/) }] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);

  it('answers a bad config with one not-ready line and exit 1', async () => {
    const child = spawn(process.execPath, [distEntry('simulators/opcua/child.js'), path.join(tmp, 'missing.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const first = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
    expect(JSON.parse(first)).toMatchObject({ ready: false, error: expect.stringMatching(/missing.yaml: cannot read it \(ENOENT\)/) });
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(1);
  });
});
