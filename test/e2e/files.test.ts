// What a real `otsentry run` leaves on disk and reports: data_dir 0700 and every file in it
// (outbox and its -wal, alerts.json, keys) 0600 even when started with umask 022; unsafe
// settings (a config file others can change, a data_dir open to others) as warnings in the log
// and in the retained status topic.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { collect, distEntry, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { tempDir, uniqueSignals, until, writeAgentConfig, type AgentProcess } from './harness.js';

let broker: TestBroker;
let sim: ModbusSimulator;
const agents: AgentProcess[] = [];
const subscribers: Collector[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.kill('SIGKILL');
  for (const s of subscribers.splice(0)) await s.close();
  sim.plc('tank-plc-1').writeTag('mode', 1);
});
afterAll(async () => {
  await sim?.stop();
  await broker?.stop();
});

/** `otsentry run` started from a shell with umask 022, as an operator's shell would. */
function startWithUmask022(config: string): AgentProcess {
  const child = spawn('/bin/sh', ['-c', 'umask 022 && exec "$0" "$@"', process.execPath, distEntry('agent/cli.js'), 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const agent: AgentProcess = {
    child,
    output: () => out,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  agents.push(agent);
  return agent;
}

/** Every entry under dir (dir included) with its permission bits. */
function modes(dir: string): Map<string, number> {
  const out = new Map<string, number>([[dir, fs.statSync(dir).mode & 0o777]]);
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath, e.name);
    out.set(full, fs.statSync(full).mode & 0o777);
  }
  return out;
}

const RULE = { id: 'mode-whitelist', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0, 1] };

describe('files the agent creates', () => {
  it('data_dir is 0700 and the outbox, its -wal and alerts.json are 0600 after a real run under umask 022', { timeout: 30_000 }, async () => {
    const dir = tempDir('modes');
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs, rules: [RULE] });
    const events = await collect(broker.url, 'otsentry/lab/gw-e2e/events');
    subscribers.push(events);
    const agent = startWithUmask022(config);
    sim.plc('tank-plc-1').writeTag('mode', 2);
    await events.waitFor((m) => uniqueSignals(m).some((s) => s.rule === 'mode-whitelist' && s.state === 'raised'), 15_000, 'the raise');
    const dataDir = path.join(dir, 'data');
    // While the agent runs, the outbox has its WAL beside it (no -shm: it holds an exclusive
    // lock, so SQLite keeps the WAL index in memory); any other file is judged as well.
    await until(() => fs.existsSync(path.join(dataDir, 'alerts.json')), 10_000, 'alerts.json written');
    const found = modes(dataDir);
    const names = [...found.keys()].map((f) => path.relative(dataDir, f));
    expect(names).toEqual(expect.arrayContaining(['', 'outbox.sqlite', 'outbox.sqlite-wal', 'alerts.json']));
    const open = [...found].filter(([f, mode]) => (mode & 0o077) !== 0 || (fs.statSync(f).isDirectory() ? mode !== 0o700 : mode !== 0o600));
    expect(open.map(([f, mode]) => `${path.relative(dir, f)} ${mode.toString(8)}`)).toEqual([]);
    expect(await agent.kill('SIGTERM')).toBe(0);
  });

  it('a config file others can change and an open data_dir are warned about in the log and the status topic', { timeout: 30_000 }, async () => {
    const dir = tempDir('warn');
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs });
    fs.chmodSync(config, 0o664);
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    fs.chmodSync(dataDir, 0o755);
    const status = await collect(broker.url, 'otsentry/lab/gw-e2e/status');
    subscribers.push(status);
    const agent = startWithUmask022(config);
    const online = () => status.messages.map((m) => JSON.parse(m.payload) as { state: string; warnings?: string[] }).find((s) => s.state === 'online');
    await status.waitFor(() => online() !== undefined, 15_000, 'an online status');
    const want = [
      `(file): config file ${config} is writable by its group (mode 664), who could change what the agent does; run chmod 644 ${config}`,
      `agent.data_dir: folder ${dataDir} can be accessed by group and others (mode 755); run chmod 700 ${dataDir}`,
    ];
    expect(online()!.warnings).toEqual(want);
    for (const w of want) expect(agent.output()).toContain(JSON.stringify(`${w}.`).slice(1, -1));
    expect(await agent.kill('SIGTERM')).toBe(0);
  });
});
