// The OPC UA simulator in a child process (simulators/opcua/child.ts), driven over its stdin: the
// servers run on their own event loop and core, apart from the agent under test or benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { packageRoot } from '../../protocols/package.js';
import type { OpcuaSimConfigInput } from './config.js';
import type { SimServerInfo } from './server.js';

export interface RemoteServerInfo extends SimServerInfo {
  /** the server certificate, base64 DER */
  certificate_der: string | null;
}

export interface RemoteOpcuaSimulator {
  readonly servers: RemoteServerInfo[];
  readonly pid: number | undefined;
  startScenario(name: string, server: string, params?: Record<string, unknown>): Promise<void>;
  stopScenario(name: string, server: string): Promise<number>;
  trustClient(server: string, pem: string | Buffer): Promise<void>;
  restart(server: string): Promise<void>;
  stop(): Promise<void>;
}

/** Start the child; resolves when every server listens. Needs `npm run build` (it runs dist/). */
export async function startOpcuaSimulatorChild(config: OpcuaSimConfigInput, o: { entry?: string } = {}): Promise<RemoteOpcuaSimulator> {
  const entry = o.entry ?? path.join(packageRoot(), 'dist', 'simulators', 'opcua', 'child.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing; run \`npm run build\` first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-opcua-child-'));
  const file = path.join(dir, 'simulator.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const child: ChildProcess = spawn(process.execPath, [entry, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const waiting = new Map<number, (r: { ok: boolean; error?: string; stopped?: number }) => void>();
  let next = 1;
  const ready = await new Promise<{ ready: boolean; error?: string; servers?: RemoteServerInfo[] }>((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`OPC UA simulator child exited with ${code} before it was ready`)));
  });
  fs.rmSync(dir, { recursive: true, force: true });
  if (!ready.ready || !ready.servers) {
    child.kill('SIGKILL');
    throw new Error(`OPC UA simulator child: ${ready.error ?? 'not ready'}`);
  }
  lines.on('line', (l) => {
    const r = JSON.parse(l) as { id: number; ok: boolean; error?: string; stopped?: number };
    waiting.get(r.id)?.(r);
    waiting.delete(r.id);
  });
  const call = (cmd: Record<string, unknown>): Promise<{ stopped?: number }> =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, (r) => (r.ok ? resolve(r) : reject(new Error(r.error))));
      child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    servers: ready.servers,
    pid: child.pid,
    startScenario: async (scenario, server, params = {}) => void (await call({ op: 'start', scenario, server, params })),
    stopScenario: async (scenario, server) => (await call({ op: 'stop', scenario, server })).stopped ?? 0,
    trustClient: async (server, pem) => void (await call({ op: 'trust', server, cert: pem.toString() })),
    restart: async (server) => void (await call({ op: 'restart', server })),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The pairing view of a simulator child (see agent-config.ts). */
export function remotePairTarget(sim: RemoteOpcuaSimulator): { servers: RemoteServerInfo[]; trustClient(id: string, pem: Buffer): Promise<void>; certificate(id: string): Buffer | null } {
  return {
    servers: sim.servers,
    trustClient: (id, pem) => sim.trustClient(id, pem),
    certificate: (id) => {
      const der = sim.servers.find((s) => s.id === id)?.certificate_der;
      return der ? Buffer.from(der, 'base64') : null;
    },
  };
}
