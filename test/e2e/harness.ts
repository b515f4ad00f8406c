// End-to-end harness: the agent as a real child process (`otsentry run`), the Modbus simulator
// (in the test process, or in a child process of its own), a real broker, and helpers to read back
// what arrived and what the outbox holds.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { stringify } from 'yaml';
import type { RiskSignal } from '../../rules/signal.js';
import { openOutbox } from '../../agent/outbox/index.js';
import type { SimulatorConfigInput } from '../../simulators/modbus/config.js';
import type { PlcInfo } from '../../simulators/modbus/plc.js';
import { distEntry, type Received } from '../helpers/broker.js';
import { client, closeClient } from '../simulators/helpers.js';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `otsentry-${prefix}-`));
}

export interface PlcAddr {
  id: string;
  host: string;
  port: number;
}

/** An agent config for tank PLCs: the sample's tags, plus the given rules and overrides. */
export function writeAgentConfig(dir: string, o: { brokerUrl: string; plcs: PlcAddr[]; rules?: unknown[]; device?: Record<string, unknown>; alerts?: unknown; broker?: Record<string, unknown> }): string {
  const tags = [
    { name: 'level', area: 'input_register', address: 0, type: 'float32' },
    { name: 'flow_rate', area: 'input_register', address: 2, type: 'float32' },
    { name: 'heartbeat', area: 'input_register', address: 10 },
    { name: 'mode', area: 'holding_register', address: 0 },
    { name: 'pump_cmd', area: 'coil', address: 0 },
  ];
  const config = {
    agent: { id: 'gw-e2e', site: 'lab', data_dir: path.join(dir, 'data'), log_level: 'info' },
    broker: { url: o.brokerUrl, reconnect_min_ms: 200, reconnect_max_ms: 1000, status_interval_ms: 1000, ...o.broker },
    devices: o.plcs.map((p) => ({
      id: p.id,
      protocol: 'modbus',
      transport: { type: 'tcp', host: p.host, port: p.port },
      interval_ms: 200,
      timeout_ms: 50,
      identity_interval_ms: 0,
      diagnostics_interval_ms: 1000,
      reconnect_min_ms: 100,
      reconnect_max_ms: 1000,
      tags,
      ...o.device,
    })),
    rules: o.rules ?? [],
    // Loss tests want every raise and clear as its own event: no flap hold, no rate limit.
    alerts: o.alerts ?? { flap: { threshold: 1_000_000 }, rate_limit: { burst: 100_000, per_minute: 1_000_000 } },
  };
  const file = path.join(dir, 'agent.yaml');
  fs.writeFileSync(file, stringify(config));
  return file;
}

export interface SimulatorProcess {
  plcs: PlcInfo[];
  /** Write one holding register the way another master would: FC06 from the test over Modbus TCP. */
  writeRegister(plcId: string, address: number, value: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The Modbus simulator in a process of its own (dist/simulators/modbus/child.js): its answers do
 * not wait for the test worker's event loop, so a busy worker cannot make the agent's polls late.
 */
export async function startSimulatorProcess(config: SimulatorConfigInput): Promise<SimulatorProcess> {
  const file = path.join(tempDir('sim'), 'simulator.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [distEntry('simulators/modbus/child.js'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code} before it was ready`)));
  });
  lines.close();
  const ready = JSON.parse(first) as { ready: boolean; error?: string; plcs?: PlcInfo[] };
  if (!ready.ready || !ready.plcs) {
    child.kill('SIGKILL');
    throw new Error(`simulator child: ${ready.error ?? first}`);
  }
  const plcs = ready.plcs;
  return {
    plcs,
    async writeRegister(plcId, address, value) {
      const plc = plcs.find((p) => p.id === plcId);
      if (!plc) throw new Error(`no PLC with id ${plcId}; ids: ${plcs.map((p) => p.id).join(', ')}`);
      const c = await client(plc.port, plc.framing, plc.unit_id);
      try {
        await c.writeRegister(address, value);
      } finally {
        await closeClient(c);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
}

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export function startAgent(configFile: string, args: string[] = ['run', '--config', configFile]): AgentProcess {
  const child = spawn(process.execPath, [distEntry('agent/cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTSENTRY_LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Unique signals (first arrival of each id), in arrival order. */
export function uniqueSignals(messages: Received[]): RiskSignal[] {
  const seen = new Set<string>();
  const out: RiskSignal[] = [];
  for (const m of messages) {
    if (!m.topic.endsWith('/events')) continue;
    const s = JSON.parse(m.payload) as RiskSignal;
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    out.push(s);
  }
  return out;
}

/** What the outbox file says after the agent stopped: highest seq and events still unacked. */
export function outboxState(dataDir: string): { lastSeq: number; pending: number } {
  const outbox = openOutbox(dataDir, 'gw-e2e', 'lab', { max_events: 1_000_000, max_bytes: 512 * 1024 * 1024, max_age_hours: 720 });
  try {
    const st = outbox.stats();
    return { lastSeq: st.last_seq, pending: st.depth };
  } finally {
    outbox.close();
  }
}

/** Await p; when it fails, add the agent's own output to the error so the cause is visible. */
export async function withOutput<T>(agent: AgentProcess, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- agent output ---\n${agent.output().slice(-4000)}`);
  }
}

export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
