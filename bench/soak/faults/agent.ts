// The real agent process of the fault suite: `otsentry run` (dist/agent/cli.js) as a child that
// can be SIGKILLed, its Prometheus metrics, and what its outbox file says once it has stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { outboxFile } from '../../../agent/outbox/index.js';
import { freePort } from '../../procs.js';

export { freePort };

/** The repository root: the nearest folder above this file with a package.json (source or dist). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('fault suite: cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

/** The built CLI; tells how to build it when missing. */
export function cliEntry(): string {
  const file = path.join(repoRoot(), 'dist', 'agent', 'cli.js');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing; run \`npm run build\` first.`);
  return file;
}

/** A free TCP port on loopback (for the agent's metrics listener and peers). */

export interface AgentProcess {
  child: ChildProcess;
  /** the last 8 KB of its stdout and stderr */
  output(): string;
  /** exit code, or the signal name when it was killed */
  exited: Promise<number | string>;
  /** send a signal (if still running) and wait for the exit */
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

/** Agents still running, SIGKILLed when this process exits so that no run leaves orphans. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function startAgent(configFile: string): AgentProcess {
  const child = spawn(process.execPath, [cliEntry(), 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  const keep = (b: Buffer) => (out = (out + b.toString()).slice(-8192));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown')));
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

/** Prometheus text → value per `name{labels}` key (labels as written by prom-client). */
export type Metrics = Map<string, number>;

export async function scrape(url: string): Promise<Metrics> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`metrics ${url}: HTTP ${res.status}`);
  const out: Metrics = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Scrape until the agent serves metrics (it has started) or it exits. */
export async function waitMetrics(agent: AgentProcess, url: string, timeoutMs = 20_000): Promise<Metrics> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) throw new Error(`agent exited before serving metrics:\n${agent.output()}`);
    try {
      return await scrape(url);
    } catch {
      if (Date.now() > until) throw new Error(`agent served no metrics on ${url} within ${timeoutMs} ms:\n${agent.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** CPU seconds a process has used so far (Linux /proc), or NaN where that cannot be read. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

export interface OutboxState {
  /** the newest seq ever committed */
  lastSeq: number;
  /** events still waiting for a PUBACK */
  depth: number;
}

/** Read a stopped agent's outbox file read-only (meta.last_seq and the events left). */
export function readOutbox(dataDir: string): OutboxState {
  const db = new Database(outboxFile(dataDir), { readonly: true, fileMustExist: true });
  try {
    const meta = db.prepare("SELECT value FROM meta WHERE key = 'last_seq'").get() as { value: string } | undefined;
    const depth = db.prepare('SELECT count(*) AS n FROM events').get() as { n: number };
    return { lastSeq: Number(meta?.value ?? 0), depth: depth.n };
  } finally {
    db.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll pred every 20 ms; the error names what was awaited and shows the agent's output. */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: string, agent?: AgentProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}${agent ? `; agent output:\n${agent.output()}` : ''}`);
    await sleep(20);
  }
}
