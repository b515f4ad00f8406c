// OPC UA benchmark: samples per second through the OPC UA poller in read mode (one batched Read per
// poll, back to back) and in subscription mode (monitored items, a poll every 100 ms drains the
// changes), against the simulator with N servers x M variables in a child process, over
// Basic256Sha256 SignAndEncrypt. Figures: samples/s, notifications/s, the agent side's CPU seconds
// per second and RSS (this process), and the simulator's CPU (from /proc). Prints nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { opcuaDeviceSchema, type OpcuaDeviceConfig } from '../protocols/opcua/config.js';
import { OpcuaPoller } from '../protocols/opcua/poller.js';
import { agentPkiDir, ensureAgentCertificate, openCertificateManager } from '../protocols/opcua/pki.js';
import { benchOpcuaConfig, tagNodeId } from '../simulators/opcua/index.js';
import { startOpcuaSimulatorChild, type RemoteOpcuaSimulator } from '../simulators/opcua/remote.js';

export interface OpcuaBenchOptions {
  servers?: number;
  variables?: number;
  /** length of each measured phase */
  phaseMs?: number;
  security?: 'SignAndEncrypt' | 'None';
  /** simulator tick: how often every variable changes (subscription mode sees each change) */
  tickMs?: number;
  /** subscription mode: sampling and publishing interval */
  subscriptionIntervalMs?: number;
  /** phases to run (default both; each alone shows its own RSS) */
  modes?: ('read' | 'subscription')[];
}

export interface OpcuaPhaseFigures {
  mode: 'read' | 'subscription';
  durationS: number;
  polls: number;
  requests: number;
  samples: number;
  badSamples: number;
  samplesPerS: number;
  /** subscription mode: data change notifications received per second */
  notificationsPerS: number;
  /** CPU seconds per second of this process (the agent side) */
  agentCpuSPerS: number;
  agentRssMbMax: number;
  /** largest V8 heap in use (the rest of RSS is code, node-opcua's modules, buffers) */
  agentHeapMbMax: number;
  /** CPU seconds per second of the simulator child (Linux /proc; null elsewhere) */
  simulatorCpuSPerS: number | null;
  pollMsP50: number;
}

export interface OpcuaBenchResult {
  servers: number;
  variables: number;
  security: string;
  startupS: { simulator: number; connect: number };
  read?: OpcuaPhaseFigures;
  subscription?: OpcuaPhaseFigures;
}

function childCpuS(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks of 10 ms
  } catch {
    return null;
  }
}

async function phase(mode: 'read' | 'subscription', pollers: OpcuaPoller[], ms: number, simPid: number | undefined): Promise<OpcuaPhaseFigures> {
  let polls = 0;
  let requests = 0;
  let samples = 0;
  let bad = 0;
  let rss = 0;
  let heap = 0;
  const durations: number[] = [];
  const n0 = pollers.reduce((a, p) => a + p.notifications, 0);
  const sim0 = childCpuS(simPid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  const mem = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 100);
  await Promise.all(
    pollers.map(async (p) => {
      while (performance.now() < end) {
        const s = performance.now();
        const r = await p.poll();
        durations.push(performance.now() - s);
        polls++;
        requests += r.requests;
        samples += r.samples.length;
        for (const x of r.samples) if (x.quality !== 'good') bad++;
        if (mode === 'subscription') await sleep(100);
      }
    }),
  );
  clearInterval(mem);
  rss = Math.max(rss, process.memoryUsage().rss);
  const dt = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sim1 = childCpuS(simPid);
  const sorted = durations.sort((a, b) => a - b);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    mode,
    durationS: r3(dt),
    polls,
    requests,
    samples,
    badSamples: bad,
    samplesPerS: Math.round(samples / dt),
    notificationsPerS: Math.round((pollers.reduce((a, p) => a + p.notifications, 0) - n0) / dt),
    agentCpuSPerS: r3((cpu.user + cpu.system) / 1e6 / dt),
    agentRssMbMax: Math.round(rss / 1e5) / 10,
    agentHeapMbMax: Math.round(heap / 1e5) / 10,
    simulatorCpuSPerS: sim0 !== null && sim1 !== null ? r3((sim1 - sim0) / dt) : null,
    pollMsP50: r3(sorted[Math.floor(sorted.length / 2)] ?? 0),
  };
}

export async function runOpcuaBench(o: OpcuaBenchOptions = {}): Promise<OpcuaBenchResult> {
  const servers = o.servers ?? 10;
  const variables = o.variables ?? 1000;
  const security = o.security ?? 'SignAndEncrypt';
  const phaseMs = o.phaseMs ?? 10_000;
  const every = o.subscriptionIntervalMs ?? 100;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-bench-opcua-'));
  let sim: RemoteOpcuaSimulator | undefined;
  const pollers: OpcuaPoller[] = [];
  try {
    const cm = await openCertificateManager(agentPkiDir(dir));
    const agentCert = await ensureAgentCertificate(cm);
    await cm.dispose();
    const simConfig = benchOpcuaConfig({
      servers,
      variables,
      tick_ms: o.tickMs ?? 100,
      sampling_ms: Math.min(50, every),
      trusted_clients: [agentCert],
      // over security None a username would travel in clear (the agent refuses it): log in anonymously
      ...(security === 'None' ? { security_modes: ['None' as const], security_policies: ['None' as const], allow_anonymous: true } : {}),
    });
    for (const s of simConfig.servers) s.max_sessions = 10;
    let t = performance.now();
    const remote = await startOpcuaSimulatorChild(simConfig);
    sim = remote;
    const simStart = (performance.now() - t) / 1000;
    const tags = Array.from({ length: variables }, (_, i) => ({ name: `reg_${i}`, node_id: tagNodeId('bench', `reg_${i}`) }));
    const device = (id: string, url: string, mode: 'read' | 'subscription'): OpcuaDeviceConfig =>
      opcuaDeviceSchema.parse({
        id,
        protocol: 'opcua',
        endpoint_url: url,
        security_policy: security === 'None' ? 'None' : 'Basic256Sha256',
        security_mode: security,
        auth: security === 'None' ? { type: 'anonymous' } : { type: 'username', username: 'otsentry', password: { env: 'OTSENTRY_BENCH_OPCUA_PASSWORD' } },
        trust_on_first_use: true,
        mode,
        subscription: { publishing_interval_ms: every, sampling_interval_ms: every, queue_size: 10 },
        interval_ms: 1000,
        timeout_ms: 1000,
        posture_interval_ms: 0,
        tags,
      });
    process.env.OTSENTRY_BENCH_OPCUA_PASSWORD = 'otsentry-sim';
    const run = async (mode: 'read' | 'subscription'): Promise<{ figures: OpcuaPhaseFigures; connectS: number }> => {
      const ps = remote.servers.map((s) => new OpcuaPoller(device(`${s.id}-${mode}`, s.endpoint_url, mode), { pkiDir: agentPkiDir(dir) }));
      pollers.push(...ps);
      t = performance.now();
      await Promise.all(ps.map((p) => p.connect()));
      for (const p of ps) await p.poll(); // first poll: posture, JIT warm-up
      const connectS = (performance.now() - t) / 1000;
      if (mode === 'subscription') await sleep(1000);
      const figures = await phase(mode, ps, phaseMs, remote.pid);
      await Promise.all(ps.map((p) => p.close()));
      return { figures, connectS };
    };
    const modes = o.modes ?? ['read', 'subscription'];
    const read = modes.includes('read') ? await run('read') : undefined;
    const sub = modes.includes('subscription') ? await run('subscription') : undefined;
    const connectS = (read ?? sub)?.connectS ?? 0;
    return {
      servers,
      variables,
      security: security === 'None' ? 'None' : 'Basic256Sha256/SignAndEncrypt',
      startupS: { simulator: Math.round(simStart * 10) / 10, connect: Math.round(connectS * 10) / 10 },
      read: read?.figures,
      subscription: sub?.figures,
    };
  } finally {
    await Promise.all(pollers.map((p) => p.close().catch(() => undefined)));
    await sim?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// `node dist/bench/opcua.js [servers] [variables] [seconds] [read|subscription|both] [None]` prints the figures as JSON.
if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const [servers, variables, seconds, mode, sec] = process.argv.slice(2);
  runOpcuaBench({
    servers: servers ? Number(servers) : undefined,
    variables: variables ? Number(variables) : undefined,
    phaseMs: seconds ? Number(seconds) * 1000 : undefined,
    modes: mode === 'read' || mode === 'subscription' ? [mode] : undefined,
    security: sec === 'None' ? 'None' : undefined,
  }).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (e: unknown) => {
      process.stderr.write(`opcua bench: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
