// Central under test: a real broker (test/helpers/broker.ts), a central.yaml in a temp dir, the
// central process started in this process (so a test can drive its clock and sweeps) with its
// log lines collected, and a publisher that speaks for SimAgents.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { createLogger } from '../../protocols/log.js';
import { loadCentralConfig } from '../../agent/central/config/load.js';
import { startCentral, type Central } from '../../agent/central/central.js';
import type { SimAgent } from '../../bench/central/simagent.js';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `otsentry-${prefix}-`));
}

export interface CentralUnderTest {
  central: Central;
  dir: string;
  config: string;
  /** parsed JSON log lines */
  logs: Array<Record<string, unknown>>;
  clock: { now: number };
}

/** Write central.yaml (broker url, sqlite in dir unless `store` says otherwise) and return its path. */
export function writeCentralConfig(dir: string, brokerUrl: string, extra: Record<string, unknown> = {}): string {
  const { central, broker, verify, ...rest } = extra as { central?: object; broker?: object; verify?: object };
  const file = path.join(dir, 'central.yaml');
  fs.writeFileSync(file, stringify({ central: { id: `c${path.basename(dir)}`, data_dir: 'data', ...central }, broker: { url: brokerUrl, reconnect_ms: 100, ...broker }, verify: { ...verify }, ...rest }));
  return file;
}

export async function startCentralForTest(brokerUrl: string, extra: Record<string, unknown> = {}, dir = tempDir('central')): Promise<CentralUnderTest> {
  const config = fs.existsSync(path.join(dir, 'central.yaml')) ? path.join(dir, 'central.yaml') : writeCentralConfig(dir, brokerUrl, extra);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const clock = { now: Date.now() };
  const central = await startCentral(loadCentralConfig(config), { log: createLogger('debug', sink), now: () => clock.now, sweepMs: 0, parts: [] });
  return { central, dir, config, logs, clock };
}

/** Poll until cond() holds; fails naming `what` after timeoutMs. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An MQTT 5 client publishing for SimAgents (status and assets retained, events QoS 1). */
export class Publisher {
  private constructor(readonly client: MqttClient, readonly prefix: string) {}

  static async connect(url: string, prefix = 'otsentry', protocolVersion: 4 | 5 = 5): Promise<Publisher> {
    const client = mqtt.connect(url, { protocolVersion, reconnectPeriod: 100 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    return new Publisher(client, prefix);
  }

  async status(a: SimAgent, state: 'online' | 'offline' = 'online', extra: Record<string, unknown> = {}): Promise<void> {
    const body = { ...(JSON.parse(a.status(state)) as object), ...extra };
    await this.client.publishAsync(`${this.prefix}/${a.topicBase}/status`, JSON.stringify(body), { qos: 1, retain: true });
  }

  async assets(a: SimAgent): Promise<void> {
    await this.client.publishAsync(`${this.prefix}/${a.topicBase}/assets`, a.assets(), { qos: 1, retain: true });
  }

  async raw(a: SimAgent | string, payload: string | Buffer, kind = 'events'): Promise<void> {
    const base = typeof a === 'string' ? a : a.topicBase;
    await this.client.publishAsync(`${this.prefix}/${base}/${kind}`, payload, { qos: 1 });
  }

  async events(a: SimAgent, payloads: readonly string[]): Promise<void> {
    await Promise.all(payloads.map((p) => this.client.publishAsync(`${this.prefix}/${a.topicBase}/events`, p, { qos: 1 })));
  }

  /** Clear the retained topics these tests used (the broker is shared by a file's tests). */
  async clear(a: SimAgent): Promise<void> {
    for (const k of ['status', 'assets']) await this.client.publishAsync(`${this.prefix}/${a.topicBase}/${k}`, '', { qos: 1, retain: true });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
