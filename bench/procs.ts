// Child processes of the benchmark: the simulator, the broker and the agent, each in its own process
// so that the agent's CPU is measured apart from the others'. Every child is tracked and killed on
// exit, on SIGINT/SIGTERM and on errors, so a failed run leaves no orphans.
import { spawn, type ChildProcess } from 'node:child_process';
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from '../agent/node-flags.js';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PlcInfo } from '../simulators/modbus/plc.js';
import type { SimulatorConfigInput } from '../simulators/modbus/config.js';
import type { AgentLoadFigures } from './agent-child.js';

/** dist/ of this build: bench/procs.js sits in dist/bench/. */
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Have killAll() end this child too (bench sections that spawn their own). */
export function trackChild(child: ChildProcess): ChildProcess {
  return track(child);
}

/** SIGKILL every child still running and remove temp dirs (synchronous: safe in an 'exit' handler). */
export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  live.clear();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `otsentry-bench-${prefix}-`));
  tempDirs.add(d);
  return d;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds a process has used so far (Linux /proc), or NaN where that cannot be read. */
export function processCpuS(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** Spawn a node entry of dist/ that prints one JSON line when ready; resolve with child and line. */
async function spawnReady<T>(entry: string, args: string[], what: string, timeoutMs = 30_000): Promise<{ child: ChildProcess; ready: T }> {
  const child = track(spawn(process.execPath, [path.join(DIST, entry), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
  const lines = readline.createInterface({ input: child.stdout! });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} not ready within ${timeoutMs} ms`)), timeoutMs);
      lines.once('line', (l) => {
        clearTimeout(timer);
        resolve(l);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${what} exited with ${code} before it was ready: ${err.trim()}`));
      });
    });
    const ready = JSON.parse(first) as T & { ready?: boolean; error?: string };
    if (ready.ready === false) throw new Error(`${what}: ${ready.error ?? first}`);
    return { child, ready };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    lines.close();
  }
}

export interface SimulatorChild {
  child: ChildProcess;
  plcs: PlcInfo[];
  stop(): Promise<void>;
}

export async function startSimulator(config: SimulatorConfigInput): Promise<SimulatorChild> {
  const file = path.join(tempDir('sim'), 'simulator.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const { child, ready } = await spawnReady<{ plcs: PlcInfo[] }>('simulators/modbus/child.js', [file], 'simulator child');
  return { child, plcs: ready.plcs, stop: () => stopChild(child) };
}

export interface BrokerChild {
  url: string;
  kind: string;
  stop(): Promise<void>;
}

function mosquittoPath(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((d) => path.join(d, 'mosquitto')).find((p) => fs.existsSync(p));
}

async function waitPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode} before listening on ${port}`);
    if (Date.now() > until) throw new Error(`broker did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** mosquitto when installed (settings of the integration tests), else the embedded aedes broker child. */
/** mosquitto (else aedes) on a free port; `extra` mosquitto.conf lines (e.g. max_inflight_messages). */
export async function startBroker(extra: readonly string[] = []): Promise<BrokerChild> {
  const bin = mosquittoPath();
  if (bin === undefined) {
    const { child, ready } = await spawnReady<{ port: number }>('agent/broker/child.js', ['0'], 'embedded broker child');
    return { url: `mqtt://127.0.0.1:${ready.port}`, kind: 'embedded aedes (mosquitto not installed)', stop: () => stopChild(child) };
  }
  const port = await freePort();
  const conf = path.join(tempDir('broker'), 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 0', 'log_dest stderr', 'log_type error', ...extra];
  // Running as root, mosquitto would switch to user "mosquitto" and lose access to the temp dir.
  if (process.getuid?.() === 0) lines.push('user root');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const child = track(spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] }));
  try {
    await waitPort(port, child);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { url: `mqtt://127.0.0.1:${port}`, kind: `mosquitto (${bin})`, stop: () => stopChild(child) };
}

export interface AgentRun extends AgentLoadFigures {
  /** CPU-s/s of the simulator process over about the same window (Linux only, else NaN) */
  sim_cpu_s_per_s: number;
}

/** Run bench/agent-child.js on a config file; resolve with its figures. */
export async function runAgentChild(configFile: string, warmupS: number, measureS: number, sim?: ChildProcess): Promise<AgentRun> {
  // The agent runs as the systemd unit starts it (agent/node-flags.ts), plus node flags for the
  // agent process only (profiling: --cpu-prof, --trace-gc); see bench/step.ts.
  const flags = (process.env.OTSENTRY_BENCH_AGENT_FLAGS ?? '').split(' ').filter(Boolean);
  const child = track(
    spawn(process.execPath, [...AGENT_NODE_FLAGS, ...flags, path.join(DIST, 'bench/agent-child.js'), configFile, String(warmupS), String(measureS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...AGENT_NODE_ENV },
    }),
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
  // The simulator's CPU is sampled from the end of the agent's warm-up (plus its start-up) to its exit.
  let simCpu0 = NaN;
  let simT0 = 0;
  const mark = setTimeout(() => {
    simCpu0 = processCpuS(sim?.pid);
    simT0 = performance.now();
  }, warmupS * 1000 + 300);
  const killer = setTimeout(() => child.kill('SIGKILL'), (warmupS + measureS + 60) * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(mark);
  clearTimeout(killer);
  const simCpu = (processCpuS(sim?.pid) - simCpu0) / ((performance.now() - simT0) / 1000);
  const lines = out.trim().split('\n');
  const last = lines.filter((l) => l.startsWith('{')).pop() ?? '';
  // What the node flags make the agent print (--trace-gc) goes to stderr.
  if (flags.length > 0) for (const l of lines) if (!l.startsWith('{')) process.stderr.write(`agent: ${l}\n`);
  if (code !== 0 || !last.startsWith('{')) throw new Error(`agent child exited with ${code}: ${err.trim() || out.trim()}`);
  return { ...(JSON.parse(last) as AgentLoadFigures), sim_cpu_s_per_s: Number(simCpu.toFixed(3)) };
}
