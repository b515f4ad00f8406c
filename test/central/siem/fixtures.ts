// Shared set-up of the SIEM output tests and bench: a SQLite central store in a temp dir filled
// with SimAgent signals, a parsed output config, an output wired to a real collector, log capture.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { centralConfigSchema } from '../../../agent/central/config/schema.js';
import { CentralFeed } from '../../../agent/central/feed.js';
import { SiemOutput } from '../../../agent/central/siem/output.js';
import { tlsOptions } from '../../../agent/central/siem/part.js';
import type { SyslogOutputConfig } from '../../../agent/central/siem/config.js';
import { SqliteStore } from '../../../agent/central/store/sqlite.js';
import type { CentralStore, StoredSignal } from '../../../agent/central/store/types.js';
import { createLogger, type Logger } from '../../../protocols/log.js';
import { SimAgent } from '../../../bench/central/simagent.js';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { log: createLogger('debug', { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) }), lines };
}

export async function tempStore(): Promise<{ store: CentralStore; dir: string; close: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-siem-'));
  const store = new SqliteStore(path.join(dir, 'central.db'));
  await store.init();
  return {
    store,
    dir,
    close: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One output config through the real schema (defaults filled). */
export function outputConfig(o: Record<string, unknown>): SyslogOutputConfig {
  return centralConfigSchema.parse({ broker: { url: 'mqtt://127.0.0.1:1883' }, siem: [{ name: 'test', host: '127.0.0.1', ...o }] }).siem[0]!;
}

/** Store `n` signals of one agent (and its assets), announcing each batch on the feed. */
export async function addSignals(store: CentralStore, agent: SimAgent, n: number, feed?: CentralFeed): Promise<StoredSignal[]> {
  const rows = agent.take(n).map((s) => ({ ...s, verdict: 'verified' as const, received_ms: Date.now() }));
  const res = await store.insertSignals(rows);
  const stored = rows.map((r, i) => ({ ...r, arrival: res.arrivals[i]! }));
  if (feed) for (const s of stored) feed.emit('signal', s);
  return stored;
}

export function makeOutput(store: CentralStore, cfg: SyslogOutputConfig, opts: { log?: Logger; feed?: CentralFeed; baseDir?: string } = {}): SiemOutput {
  return new SiemOutput({
    cfg,
    index: 0,
    store,
    feed: opts.feed,
    log: opts.log ?? captureLog().log,
    central: 'central-test',
    render: { hostname: 'central-test', version: '0.1.0', procid: String(process.pid) },
    connect: { host: cfg.host, port: cfg.port, tls: tlsOptions(cfg, 0, opts.baseDir ?? '.'), timeout_ms: cfg.connect_timeout_ms },
  });
}

/** Wait for a condition (polled); the error names what did not happen. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeout_ms = 20_000): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
