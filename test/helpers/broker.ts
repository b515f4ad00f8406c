// Real MQTT brokers for integration tests: mosquitto when installed (CI installs it), else the
// embedded aedes broker in a child process; plus a QoS 1 subscriber that collects messages.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { freePort } from './ports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type BrokerKind = 'mosquitto' | 'aedes';

export interface TestBrokerOptions {
  /** TCP port on 127.0.0.1; default a free one */
  port?: number;
  /** force a kind; default mosquitto when installed */
  kind?: BrokerKind;
  /** extra mosquitto.conf lines, placed right after the listener line (TLS files, acl_file, ...) */
  config?: string[];
  /** mosquitto password_file; turns anonymous access off */
  passwordFile?: string;
  /** keep sessions and queued messages across stop()/restart() (mosquitto only) */
  persistence?: boolean;
  /**
   * max_queued_messages 0 (no limit, default true): mosquitto's default of 1000 silently drops
   * QoS 1 messages queued for a slow subscriber. mosquitto 2.0.11 drops the connection of a
   * client whose QoS 1 publish its ACL denies when this is set, so ACL tests turn it off.
   */
  unlimitedQueue?: boolean;
}

export interface TestBroker {
  url: string;
  port: number;
  kind: BrokerKind;
  /** temp dir holding the config and persistence files */
  dir: string;
  /** stop the process (SIGTERM) and wait until the port is closed */
  stop(): Promise<void>;
  /** start again on the same port */
  restart(): Promise<void>;
}

/** The mosquitto binary, or undefined when not installed (or OTSENTRY_TEST_BROKER=aedes). */
export function mosquittoPath(): string | undefined {
  if (process.env.OTSENTRY_TEST_BROKER === 'aedes') return undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((d) => path.join(d, 'mosquitto')).find((p) => fs.existsSync(p));
}

/**
 * True (and says so once per suite) when mosquitto is missing: tests of what only mosquitto does
 * (TLS, ACLs, persistence, passwords) skip on a user's machine without it. CI installs it.
 */
export function withoutMosquitto(suite: string): boolean {
  if (mosquittoPath() !== undefined) return false;
  console.info(`${suite} skipped: mosquitto is not installed (apt-get install mosquitto; CI installs it).`);
  return true;
}

/** Absolute path of a compiled entry in dist/; tells how to build it when missing. */
export function distEntry(rel: string): string {
  const file = path.join(ROOT, 'dist', rel);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing; run \`npm run build\` before the integration tests.`);
  return file;
}

let announced = false;

export async function startTestBroker(opts: TestBrokerOptions = {}): Promise<TestBroker> {
  const bin = mosquittoPath();
  const kind: BrokerKind = opts.kind ?? (bin !== undefined ? 'mosquitto' : 'aedes');
  if (kind === 'mosquitto' && bin === undefined) throw new Error('mosquitto is not installed (apt-get install mosquitto).');
  if (kind === 'aedes' && (opts.config || opts.passwordFile || opts.persistence)) {
    throw new Error('TLS, password files and persistence need mosquitto; install it (apt-get install mosquitto).');
  }
  if (!announced) {
    announced = true;
    console.info(kind === 'mosquitto' ? `test broker: mosquitto (${bin})` : 'test broker: embedded aedes in a child process (mosquitto not installed or not chosen)');
  }
  const port = opts.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-broker-'));
  const conf = path.join(dir, 'mosquitto.conf');
  if (kind === 'mosquitto') fs.writeFileSync(conf, mosquittoConfig(port, dir, opts));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = kind === 'mosquitto' ? await startMosquitto(bin!, conf, port) : await startAedes(port);
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    kind,
    dir,
    async stop() {
      if (child !== undefined) await stopProcess(child);
      child = undefined;
      await waitPortClosed(port);
    },
    async restart() {
      if (child !== undefined) throw new Error('test broker: restart() while running; call stop() first.');
      await start();
    },
  };
}

function mosquittoConfig(port: number, dir: string, opts: TestBrokerOptions): string {
  const lines = [
    `listener ${port} 127.0.0.1`,
    ...(opts.config ?? []),
    opts.passwordFile ? `password_file ${opts.passwordFile}` : '',
    `allow_anonymous ${opts.passwordFile ? 'false' : 'true'}`,
    opts.persistence ? `persistence true\npersistence_location ${dir}/\nautosave_interval 0` : 'persistence false',
    opts.unlimitedQueue === false ? '' : 'max_queued_messages 0',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    // Running as root, mosquitto would switch to user "mosquitto" and lose access to the temp dir.
    process.getuid?.() === 0 ? 'user root' : '',
  ];
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

async function startMosquitto(bin: string, conf: string, port: number): Promise<ChildProcess> {
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`mosquitto exited with ${code} before listening on ${port}:\n${log}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([waitPortOpen(port), exited]);
  return child;
}

async function startAedes(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [distEntry('agent/broker/child.js'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`aedes broker child exited with ${code} before it was ready`)));
  });
  lines.close();
  const ready = JSON.parse(first) as { ready: boolean; port: number };
  if (!ready.ready || ready.port !== port) throw new Error(`aedes broker child: unexpected first line ${first}`);
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitPortOpen(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (Date.now() > until) throw new Error(`broker did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitPortClosed(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (await canConnect(port)) {
    if (Date.now() > until) throw new Error(`broker still listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

export interface Collector {
  messages: Received[];
  client: MqttClient;
  /** resolve when pred(messages) holds; reject after timeoutMs with `what` in the message */
  waitFor(pred: (messages: Received[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

/** Subscribe to a topic filter with QoS 1 and collect every message (reconnects by itself). */
export async function collect(url: string, topic: string, options: IClientOptions = {}): Promise<Collector> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 100, connectTimeout: 5000, ...options });
  const messages: Received[] = [];
  client.on('message', (t, payload, packet) => messages.push({ topic: t, payload: payload.toString('utf8'), retain: packet.retain, qos: packet.qos }));
  client.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscriber: no connection to ${url} within 10 s`)), 10_000);
    client.on('connect', () => {
      client.subscribe(topic, { qos: 1 }, (err) => {
        if (err) return reject(err);
        clearTimeout(timer);
        resolve();
      });
    });
  });
  return {
    messages,
    client,
    async waitFor(pred, timeoutMs = 20_000, what = 'the expected messages') {
      const until = Date.now() + timeoutMs;
      while (!pred(messages)) {
        if (Date.now() > until) throw new Error(`subscriber on ${topic}: ${what} did not arrive within ${timeoutMs} ms (got ${messages.length})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}
