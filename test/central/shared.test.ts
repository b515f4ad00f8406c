// Two central processes in one share group on one mosquitto, one store between them (a SQLite
// file; a real PostgreSQL server), as two instances in this process and as two real `otsentry
// central` processes: the broker splits the events between them, and every signal is stored
// exactly once with every agent's chain verified to its last seq and no finding. On
// the embedded aedes broker (MQTT 3.1.1, no shared subscriptions) one central process with
// protocol_version 4 and shared_subscription false stores everything.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../../bench/central/pgserver.js';
import { SimAgent } from '../../bench/central/simagent.js';
import { PostgresStore } from '../../agent/central/store/postgres.js';
import { distEntry, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/ports.js';
import { Publisher, startCentralForTest, tempDir, until, writeCentralConfig } from './harness.js';

const AGENTS = 4;
const PER_AGENT = 250;

let broker: TestBroker;
let pg: PgServer;
beforeAll(async () => {
  broker = await startTestBroker();
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await broker?.stop();
  await pg?.stop();
});

async function splitRun(prefix: string, store: Record<string, unknown>) {
  const shared = { broker: { topic_prefix: prefix, share_group: prefix }, store };
  const one = await startCentralForTest(broker.url, { ...shared, central: { id: `${prefix}-1`, data_dir: 'data' } });
  const two = await startCentralForTest(broker.url, { ...shared, central: { id: `${prefix}-2`, data_dir: 'data' } });
  const pub = await Publisher.connect(broker.url, prefix);
  try {
    const agents = Array.from({ length: AGENTS }, (_, i) => new SimAgent('plant-a', `gw-${i}`));
    for (const a of agents) await pub.status(a);
    await until(async () => (await one.central.store.listAgents()).filter((r) => r.pinned).length === AGENTS, 'every key pinned');
    for (let i = 0; i < PER_AGENT; i += 50) for (const a of agents) await pub.events(a, a.take(50).map((s) => s.payload));
    const total = AGENTS * PER_AGENT;
    await until(async () => (await one.central.store.countSignals()) === total, `${total} stored`, 60_000);
    await one.central.ingest.idle();
    await two.central.ingest.idle();
    const [a, b] = [one.central.ingest.stats, two.central.ingest.stats];
    expect(a.received + b.received).toBe(total);
    expect(a.received).toBeGreaterThan(0);
    expect(b.received).toBeGreaterThan(0);
    expect(a.stored + b.stored).toBe(total);
    expect(a.duplicates + b.duplicates).toBe(0);
    // Each process saw only part of each chain; together they moved every chain to the end.
    await until(async () => (await one.central.store.listAgents()).every((r) => r.chain_seq === PER_AGENT), 'every chain verified to its last seq');
    for (const r of await one.central.store.listAgents()) expect(r).toMatchObject({ chain_seq: PER_AGENT, chain_state: 'verified', last_seq: PER_AGENT });
    expect(await one.central.store.listFindings()).toEqual([]);
    return { a, b };
  } finally {
    await pub.close();
    await one.central.stop();
    await two.central.stop();
  }
}

describe('two central processes on one shared subscription', () => {
  it('split the events over one SQLite file: nothing lost, nothing stored twice', { timeout: 90_000 }, async () => {
    const dir = tempDir('central-shared');
    await splitRun(`s${process.pid}a`, { type: 'sqlite', path: path.join(dir, 'shared.db') });
  });

  it('split the events over one PostgreSQL database: nothing lost, nothing stored twice', { timeout: 90_000 }, async () => {
    const database = await pg.createDatabase();
    await splitRun(`s${process.pid}b`, { type: 'postgres', host: pg.host, port: pg.port, user: pg.user, database });
  });
});

/** `otsentry central` as a real process; resolves once it is subscribed. */
async function centralProcess(config: string): Promise<{ child: ChildProcess; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [distEntry('agent/cli.js'), 'central', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await until(() => log.includes('receiving') || child.exitCode !== null, 'central to subscribe');
  if (child.exitCode !== null) throw new Error(`central exited: ${log}`);
  return {
    child,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function metricOf(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

describe('two `otsentry central` processes on one shared subscription', () => {
  it('split the events over one PostgreSQL database: nothing lost, nothing stored twice', { timeout: 90_000 }, async () => {
    const prefix = `s${process.pid}c`;
    const database = await pg.createDatabase();
    const store = { type: 'postgres', host: pg.host, port: pg.port, user: pg.user, database };
    const ports = [await freePort(), await freePort()];
    const procs = [];
    for (const [i, port] of ports.entries()) {
      const dir = tempDir(`central-proc-${i}`);
      procs.push(await centralProcess(writeCentralConfig(dir, broker.url, { central: { id: `${prefix}-${i}`, data_dir: 'data', metrics_listen: `127.0.0.1:${port}` }, broker: { topic_prefix: prefix, share_group: prefix }, store })));
    }
    const pub = await Publisher.connect(broker.url, prefix);
    const reader = new PostgresStore({ host: pg.host, port: pg.port, user: pg.user, database });
    await reader.init();
    try {
      const agents = Array.from({ length: AGENTS }, (_, i) => new SimAgent('plant-a', `gw-${i}`));
      for (const a of agents) await pub.status(a);
      await until(async () => (await reader.listAgents()).filter((r) => r.pinned).length === AGENTS, 'every key pinned');
      for (let i = 0; i < PER_AGENT; i += 50) for (const a of agents) await pub.events(a, a.take(50).map((s) => s.payload));
      const total = AGENTS * PER_AGENT;
      await until(async () => (await reader.countSignals()) === total, `${total} stored`, 60_000);
      await until(async () => (await reader.listAgents()).every((r) => r.chain_seq === PER_AGENT), 'every chain verified to its last seq');
      const received = await Promise.all(ports.map((p) => metricOf(p, 'otsentry_central_signals_received_total')));
      const stored = await Promise.all(ports.map((p) => metricOf(p, 'otsentry_central_signals_stored_total')));
      const dups = await Promise.all(ports.map((p) => metricOf(p, 'otsentry_central_signals_duplicate_total')));
      expect(received[0]! + received[1]!).toBe(total);
      expect(Math.min(...received)).toBeGreaterThan(0);
      expect(stored[0]! + stored[1]!).toBe(total);
      expect(dups).toEqual([0, 0]);
      for (const r of await reader.listAgents()) expect(r).toMatchObject({ chain_state: 'verified', last_seq: PER_AGENT });
      expect(await reader.listFindings()).toEqual([]);
    } finally {
      await pub.close();
      await reader.close();
      for (const p of procs) expect(await p.stop()).toBe(0);
    }
  });
});

describe('central on the embedded aedes broker', () => {
  it('with protocol_version 4 and no shared subscription, stores every signal', { timeout: 60_000 }, async () => {
    const aedes = await startTestBroker({ kind: 'aedes' });
    const c = await startCentralForTest(aedes.url, { broker: { protocol_version: 4, shared_subscription: false } });
    const pub = await Publisher.connect(aedes.url, 'otsentry', 4);
    try {
      const a = new SimAgent('plant-a', 'gw-aedes');
      await pub.status(a);
      await pub.events(a, a.take(100).map((s) => s.payload));
      await until(async () => (await c.central.store.countSignals()) === 100, '100 stored');
      expect(await c.central.store.getAgent('plant-a', 'gw-aedes')).toMatchObject({ chain_seq: 100, chain_state: 'verified' });
    } finally {
      await pub.close();
      await c.central.stop();
      await aedes.stop();
    }
  });
});
