// The soak's broker: a mosquitto process on a free loopback port that keeps sessions and queued
// messages across stop/restart (persistence), so the capture misses nothing while it is down.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './agent.js';
import type { RestartableBroker } from './outage.js';

// Ctrl-C of a soak run: exit normally, so the 'exit' handlers kill the broker and agent children.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

export interface SoakBroker extends RestartableBroker {
  close(): Promise<void>;
}

function mosquittoBin(): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  const bin = dirs.map((d) => path.join(d, 'mosquitto')).find((p) => fs.existsSync(p));
  if (bin === undefined) throw new Error('the fault soak needs mosquitto (apt-get install mosquitto)');
  return bin;
}

export async function startSoakBroker(): Promise<SoakBroker> {
  const bin = mosquittoBin();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-soak-broker-'));
  const conf = path.join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `persistence true\npersistence_location ${dir}/\nautosave_interval 0`,
    // The default of 1000 would drop QoS 1 messages queued for the capture while it catches up.
    'max_queued_messages 0',
    'log_dest stderr',
    'log_type error',
    // Running as root, mosquitto would switch to user "mosquitto" and lose access to the temp dir.
    process.getuid?.() === 0 ? 'user root' : '',
  ];
  fs.writeFileSync(conf, lines.filter((l) => l !== '').join('\n') + '\n');
  let child: ChildProcess | undefined;
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);
  const start = async () => {
    const c = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    c.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-2000)));
    child = c;
    await waitPort(port, true).catch((e: Error) => {
      throw new Error(`${e.message}:\n${log}`);
    });
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM'); // mosquitto writes its persistence file on SIGTERM
    await exited;
    await waitPort(port, false);
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop,
    restart: start,
    async close() {
      await stop();
      process.off('exit', onExit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitPort(port: number, open: boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const isOpen = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (isOpen === open) return;
    if (Date.now() > until) throw new Error(`mosquitto on 127.0.0.1:${port} did not ${open ? 'listen' : 'close'} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Run f with a fresh soak broker and temp dir, both removed afterwards. */
export async function withSoakBroker<T>(name: string, f: (broker: SoakBroker, dir: string) => Promise<T>): Promise<T> {
  const broker = await startSoakBroker();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `otsentry-soak-${name}-`));
  try {
    return await f(broker, dir);
  } finally {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
