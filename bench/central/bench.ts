// `npm run bench -- --only central`: signals per second the central process verifies and stores
// (the real `otsentry central` in a child process, SQLite and PostgreSQL), two processes on one
// shared subscription, and 1,000 simulated agents reconnecting at once. Figures only.
//
// One process: signals of 50 SimAgents are published while central is stopped (its broker
// session queues them), then central starts and drains them; the rate is counted from its first
// to its last stored signal (its metrics, polled), so the publisher does not share the CPU.
// Two processes: both run, a publisher pushes the signals live; the rate is the pair's.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { SimAgent, type Sealed } from './simagent.js';
import { startPostgres, type PgServer } from './pgserver.js';
import { freePort, processCpuS, startBroker, stopChild, tempDir, trackChild, type BrokerChild } from '../procs.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../agent/cli.js');

export interface CentralRate {
  label: string;
  signals: number;
  seconds: number;
  per_s: number;
  /** CPU-s/s of the central process(es) over the window */
  cpu_s_per_s: number;
}

export interface ReconnectFigures {
  agents: number;
  events: number;
  /** from the first connect to every agent online in central */
  all_online_s: number;
  /** from the first connect to every event stored */
  all_stored_s: number;
  central_cpu_s: number;
}

export interface CentralBenchResult {
  broker: string;
  single: CentralRate[];
  pair: CentralRate[];
  reconnect?: ReconnectFigures;
}

interface CentralChild {
  child: ChildProcess;
  metricsUrl: string;
  stop(): Promise<void>;
}

type StoreCfg = Record<string, unknown>;

async function writeConfig(dir: string, id: string, brokerUrl: string, prefix: string, store: StoreCfg): Promise<{ file: string; metricsUrl: string }> {
  const port = await freePort();
  const file = path.join(dir, `${id}.yaml`);
  fs.writeFileSync(file, stringify({ central: { id, data_dir: 'data', log_level: 'warn', metrics_listen: `127.0.0.1:${port}` }, broker: { url: brokerUrl, topic_prefix: prefix, share_group: prefix, reconnect_ms: 200 }, store, verify: { gap_grace_secs: 600 } }));
  return { file, metricsUrl: `http://127.0.0.1:${port}/metrics` };
}

async function startCentralChild(file: string, metricsUrl: string): Promise<CentralChild> {
  const child = trackChild(spawn(process.execPath, [CLI, 'central', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTSENTRY_LOG_LEVEL: 'info' } }));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
  child.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
  const end = Date.now() + 30_000;
  while (!out.includes('Connected to the broker')) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`central did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, metricsUrl, stop: () => stopChild(child, 12_000) };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await fetch(url).then((r) => r.text()).catch(() => '');
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Agents central holds as online (their keys are pinned by then). */
async function onlineCount(url: string): Promise<number> {
  return ((await fetch(url).then((r) => r.text()).catch(() => '')).match(/^otsentry_central_agent_online\{[^}]*\} 1$/gm) ?? []).length;
}

async function storedSum(children: readonly CentralChild[]): Promise<number> {
  let total = 0;
  for (const c of children) total += await metric(c.metricsUrl, 'otsentry_central_signals_stored_total');
  return total;
}

async function publisher(url: string): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 200 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

function makeAgents(count: number, perAgent: number): { agents: SimAgent[]; signals: Array<{ a: SimAgent; s: Sealed }> } {
  const agents = Array.from({ length: count }, (_, i) => new SimAgent('bench', `gw-${i}`));
  const signals: Array<{ a: SimAgent; s: Sealed }> = [];
  for (let i = 0; i < perAgent; i++) for (const a of agents) signals.push({ a, s: a.next() });
  return { agents, signals };
}

async function publishAll(client: MqttClient, prefix: string, signals: ReadonlyArray<{ a: SimAgent; s: Sealed }>): Promise<void> {
  const WINDOW = 2000;
  for (let i = 0; i < signals.length; i += WINDOW) {
    await Promise.all(signals.slice(i, i + WINDOW).map(({ a, s }) => client.publishAsync(`${prefix}/${a.topicBase}/events`, s.payload, { qos: 1 })));
  }
}

async function announce(client: MqttClient, prefix: string, agents: readonly SimAgent[]): Promise<void> {
  await Promise.all(agents.map((a) => client.publishAsync(`${prefix}/${a.topicBase}/status`, a.status(), { qos: 1, retain: true })));
}

/** Wait until `total` are stored; the rate from the first poll that saw one stored to the last. */
async function measure(children: readonly CentralChild[], total: number, label: string, startAt?: number): Promise<CentralRate> {
  let first: { t: number; n: number } | undefined = startAt === undefined ? undefined : { t: startAt, n: 0 };
  const cpu0 = children.map((c) => processCpuS(c.child.pid));
  let cpuStart = first === undefined ? undefined : cpu0;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const n = await storedSum(children);
    const t = performance.now();
    if (first === undefined && n > 0) {
      first = { t, n };
      cpuStart = children.map((c) => processCpuS(c.child.pid));
    }
    if (n >= total || Date.now() > deadline) {
      const seconds = (t - first!.t) / 1000;
      const cpu = children.reduce((sum, c, i) => sum + processCpuS(c.child.pid) - cpuStart![i]!, 0);
      return { label, signals: n - first!.n, seconds, per_s: (n - first!.n) / seconds, cpu_s_per_s: cpu / seconds };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function singleRun(broker: BrokerChild, label: string, store: StoreCfg, agentsN: number, perAgent: number, progress: (l: string) => void): Promise<CentralRate> {
  const dir = tempDir('central');
  const prefix = `b${Math.random().toString(36).slice(2, 8)}`;
  const { file, metricsUrl } = await writeConfig(dir, 'solo', broker.url, prefix, store);
  const pub = await publisher(broker.url);
  try {
    const { agents, signals } = makeAgents(agentsN, perAgent);
    // First start: the broker session and the subscriptions exist, the agents' keys are pinned.
    let c = await startCentralChild(file, metricsUrl);
    await announce(pub, prefix, agents);
    while ((await onlineCount(metricsUrl)) < agentsN) await new Promise((r) => setTimeout(r, 50));
    await c.stop();
    progress(`${label}: publishing ${signals.length} signals while central is stopped`);
    await publishAll(pub, prefix, signals);
    progress(`${label}: central drains them`);
    c = await startCentralChild(file, metricsUrl);
    try {
      return await measure([c], signals.length, label);
    } finally {
      await c.stop();
    }
  } finally {
    await pub.endAsync();
  }
}

async function pairRun(broker: BrokerChild, label: string, store: StoreCfg, agentsN: number, perAgent: number): Promise<CentralRate> {
  const dir = tempDir('central-pair');
  const prefix = `p${Math.random().toString(36).slice(2, 8)}`;
  const a = await writeConfig(dir, 'one', broker.url, prefix, store);
  const b = await writeConfig(dir, 'two', broker.url, prefix, store);
  const children = [await startCentralChild(a.file, a.metricsUrl), await startCentralChild(b.file, b.metricsUrl)];
  const pubs = [await publisher(broker.url), await publisher(broker.url)];
  try {
    const { agents, signals } = makeAgents(agentsN, perAgent);
    await announce(pubs[0]!, prefix, agents);
    const t0 = performance.now();
    const half = Math.ceil(agents.length / 2);
    const mine = (k: number) => signals.filter(({ a: ag }) => agents.indexOf(ag) < half === (k === 0));
    const publishing = Promise.all(pubs.map((p, k) => publishAll(p, prefix, mine(k))));
    const r = await measure(children, signals.length, label, t0);
    await publishing;
    return r;
  } finally {
    for (const p of pubs) await p.endAsync();
    for (const c of children) await c.stop();
  }
}

async function reconnectRun(broker: BrokerChild, agentsN: number, eventsEach: number, progress: (l: string) => void): Promise<ReconnectFigures> {
  const dir = tempDir('central-reconnect');
  const prefix = `r${Math.random().toString(36).slice(2, 8)}`;
  const { file, metricsUrl } = await writeConfig(dir, 'solo', broker.url, prefix, { type: 'sqlite', path: 'central.db' });
  const c = await startCentralChild(file, metricsUrl);
  const clients: MqttClient[] = [];
  try {
    const agents = Array.from({ length: agentsN }, (_, i) => new SimAgent('fleet', `gw-${i}`));
    const batches = agents.map((a) => a.take(eventsEach));
    progress(`1,000 agents: ${agentsN} clients connect at once, each publishes its status and ${eventsEach} events`);
    const cpu0 = processCpuS(c.child.pid);
    const t0 = performance.now();
    const done = agents.map(async (a, i) => {
      const client = mqtt.connect(broker.url, { protocolVersion: 5, clientId: `bench-${prefix}-${i}`, reconnectPeriod: 500, connectTimeout: 60_000, will: { topic: `${prefix}/${a.topicBase}/status`, payload: Buffer.from(a.status('offline')), qos: 1, retain: true } });
      clients.push(client);
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      await client.publishAsync(`${prefix}/${a.topicBase}/status`, a.status(), { qos: 1, retain: true });
      for (const s of batches[i]!) await client.publishAsync(`${prefix}/${a.topicBase}/events`, s.payload, { qos: 1 });
    });
    let allOnline = NaN;
    const total = agentsN * eventsEach;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const online = await onlineCount(metricsUrl);
      const stored = await metric(metricsUrl, 'otsentry_central_signals_stored_total');
      const t = (performance.now() - t0) / 1000;
      if (Number.isNaN(allOnline) && online >= agentsN) allOnline = t;
      if ((stored >= total && !Number.isNaN(allOnline)) || Date.now() > deadline) {
        await Promise.all(done);
        return { agents: agentsN, events: stored, all_online_s: allOnline, all_stored_s: t, central_cpu_s: processCpuS(c.child.pid) - cpu0 };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await Promise.all(clients.map((cl) => cl.endAsync(true).catch(() => undefined)));
    await c.stop();
  }
}

export async function runCentralBench(progress: (l: string) => void): Promise<CentralBenchResult> {
  // mosquitto's default of 20 unacked messages per client would bound central's batches.
  const broker = await startBroker(['max_inflight_messages 5000']);
  let pg: PgServer | undefined;
  try {
    pg = await startPostgres();
  } catch (e) {
    progress(`PostgreSQL figures skipped: ${(e as Error).message}`);
  }
  const pgStore = async (): Promise<StoreCfg> => ({ type: 'postgres', host: pg!.host, port: pg!.port, user: pg!.user, database: await pg!.createDatabase(), pool_size: 4 });
  try {
    const single: CentralRate[] = [];
    single.push(await singleRun(broker, 'one process, SQLite', { type: 'sqlite', path: 'central.db' }, 50, 1000, progress));
    if (pg) single.push(await singleRun(broker, 'one process, PostgreSQL', await pgStore(), 50, 1000, progress));
    const pair: CentralRate[] = [];
    progress('two processes on one shared subscription (live publishing)');
    const shared = tempDir('central-shared');
    pair.push(await pairRun(broker, 'two processes, one SQLite file', { type: 'sqlite', path: path.join(shared, 'shared.db') }, 50, 800));
    if (pg) pair.push(await pairRun(broker, 'two processes, one PostgreSQL', await pgStore(), 50, 800));
    const reconnect = await reconnectRun(broker, 1000, 5, progress);
    return { broker: broker.kind, single, pair, reconnect };
  } finally {
    await pg?.stop();
    await broker.stop();
  }
}
