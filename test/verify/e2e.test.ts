// End to end: the real agent (`otsentry run` against the Modbus simulator) publishes to a real
// broker; `mosquitto_sub -v` and `otsentry verify --broker` capture it; `otsentry verify` finds
// every hash, link and signature valid, and names the seq of an event with one byte edited.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { distEntry, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { startAgent, tempDir, until, withOutput, writeAgentConfig, type AgentProcess } from '../e2e/harness.js';

const MODE_RULE = { id: 'mode-whitelist', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0, 1] };
const MIN_EVENTS = 12;

let broker: TestBroker;
let sim: ModbusSimulator;
const children: ChildProcess[] = [];
const agents: AgentProcess[] = [];
let toggler: NodeJS.Timeout | undefined;

beforeAll(async () => {
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
});
afterEach(async () => {
  clearInterval(toggler);
  for (const a of agents.splice(0)) await a.kill('SIGKILL');
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  sim.plc('tank-plc-1').writeTag('mode', 1);
});
afterAll(async () => {
  await sim?.stop();
  await broker?.stop();
});

function otsentry(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A child process whose exit (code) and output we can await. */
function child(cmd: string, args: string[], outFile?: string): { proc: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const fd = outFile === undefined ? 'pipe' : fs.openSync(outFile, 'w');
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out: () => out, err: () => err, exited };
}

const eventLines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('/events {'));

describe('otsentry verify against the real agent', () => {
  it('verifies what mosquitto_sub and its own subscription captured, and names an edited seq', { timeout: 90_000 }, async () => {
    const dir = tempDir('verify-e2e');
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs, rules: [MODE_RULE] });
    const captureFile = path.join(dir, 'capture.txt');
    const sub = child('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-v', '-t', 'otsentry/#'], captureFile);
    const live = child(process.execPath, [distEntry('agent/cli.js'), 'verify', '--broker', broker.url, '--count', String(MIN_EVENTS), '--json']);
    // Both subscribers are in before the agent starts, so they see seq 1 onwards.
    await until(() => live.err().includes('otsentry: subscribed to otsentry/#'), 20_000, 'otsentry verify to subscribe');
    const probe = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    await until(() => {
      void probe.publishAsync('otsentry/e2e/probe/ping', 'ping');
      return fs.readFileSync(captureFile, 'utf8').includes('otsentry/e2e/probe/ping ping');
    }, 20_000, 'mosquitto_sub to subscribe');
    await probe.endAsync();

    const agent = startAgent(config);
    agents.push(agent);
    const plc = sim.plc('tank-plc-1');
    toggler = setInterval(() => plc.writeTag('mode', plc.readTag('mode') === 1 ? 2 : 1), 250);
    await withOutput(agent, until(() => fs.existsSync(captureFile) && eventLines(captureFile).length >= MIN_EVENTS, 30_000, `${MIN_EVENTS} events in the capture`));
    clearInterval(toggler);
    expect(await live.exited).toBe(0);
    expect(await agent.kill('SIGTERM')).toBe(0);
    // The offline status is the last message the agent publishes on a graceful stop.
    await until(() => /\/status \{[^\n]*"state":"offline"/.test(fs.readFileSync(captureFile, 'utf8')), 10_000, 'the offline status');
    sub.proc.kill('SIGTERM');
    await sub.exited;

    const liveReport = JSON.parse(live.out());
    expect(liveReport.ok).toBe(true);
    expect(liveReport.agents[0]).toMatchObject({ site: 'lab', agent: 'gw-e2e', first_seq: 1 });
    expect(liveReport.agents[0].keys[0].source).toMatch(/^status message/);

    const r = otsentry(['verify', captureFile, '--json', '--first-seq', '1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    const a = report.agents[0];
    expect(a.unique).toBeGreaterThanOrEqual(MIN_EVENTS);
    expect(a).toMatchObject({ hashes_ok: a.unique, signatures_ok: a.unique, links_ok: a.unique, unsigned: 0, gaps: [], problems: [] });
    // The key announced in status is the one `otsentry key` prints.
    const key = JSON.parse(otsentry(['key', '--config', config, '--json']).out);
    expect(a.keys.map((k: { key_id: string }) => k.key_id)).toEqual([key.key_id]);
    // ... and the retained assets carry it too.
    const assets = fs.readFileSync(captureFile, 'utf8').split('\n').filter((l) => l.startsWith('otsentry/lab/gw-e2e/assets '));
    expect(assets.length).toBeGreaterThan(0);
    for (const l of assets) expect(JSON.parse(l.slice(l.indexOf(' ') + 1)).signing_key).toEqual({ algorithm: 'Ed25519', key_id: key.key_id, public_key: key.public_key });

    // One byte of one captured signal's message changed: exit 3, naming that seq.
    const lines = fs.readFileSync(captureFile, 'utf8').split('\n');
    const i = lines.findIndex((l, n) => n > 3 && l.includes('/events {'));
    const seq = (JSON.parse(lines[i]!.slice(lines[i]!.indexOf(' ') + 1)) as { seq: number }).seq;
    const at = lines[i]!.indexOf('"message":"') + '"message":"'.length;
    lines[i] = lines[i]!.slice(0, at) + (lines[i]![at] === 'X' ? 'Y' : 'X') + lines[i]!.slice(at + 1);
    const edited = path.join(dir, 'edited.txt');
    fs.writeFileSync(edited, lines.join('\n'));
    const bad = otsentry(['verify', edited]);
    expect(bad.code).toBe(3);
    expect(bad.out).toContain(`! seq ${seq} (line ${i + 1}): hash does not match the content (edited).`);
  });
});
