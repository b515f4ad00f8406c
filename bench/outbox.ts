// Outbox and forwarder benchmarks: commit rate (events/s at batch sizes 1 and 100) and backlog
// drain rate to a broker (QoS 1 messages/s). Functions return figures and print nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmbeddedBroker } from '../agent/broker/embedded.js';
import type { BrokerConfig } from '../agent/config/schema.js';
import { Forwarder } from '../agent/forward/index.js';
import { SqliteOutbox } from '../agent/outbox/index.js';
import type { SignalDraft } from '../rules/signal.js';

const LIMITS = { max_events: 10_000_000, max_bytes: 4 * 1024 * 1024 * 1024, max_age_hours: 720 };

function draft(i: number): SignalDraft {
  return {
    ts: new Date(1_750_000_000_000 + i * 1000).toISOString(),
    device: `plc-${i % 16}`,
    tag: 'pump_speed',
    rule: 'range.pump_speed',
    category: 'anomaly',
    severity: (['info', 'low', 'medium', 'high', 'critical'] as const)[i % 5],
    state: 'raised',
    score: i % 100,
    message: `Pump speed out of range (${i}).`,
    observed: 1500 + (i % 50),
    expected: { min: 0, max: 1450 },
    evidence: { window_s: 60, samples: 12 },
  };
}

function tempFile(): { file: string; dispose: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-bench-'));
  return { file: path.join(dir, 'outbox.sqlite'), dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface CommitFigures {
  batch_size: number;
  synchronous: 'FULL' | 'NORMAL';
  events: number;
  seconds: number;
  events_per_s: number;
  commits_per_s: number;
}

/** Append `events` events in batches of `batchSize` to a fresh outbox file on disk. */
export function benchOutboxCommits(opts: { batchSize: number; events?: number; synchronous?: 'FULL' | 'NORMAL' }): CommitFigures {
  const events = opts.events ?? (opts.batchSize === 1 ? 2000 : 50_000);
  const synchronous = opts.synchronous ?? 'FULL';
  const tmp = tempFile();
  const box = SqliteOutbox.open({ file: tmp.file, agent: 'bench', site: 'bench', limits: LIMITS, synchronous });
  try {
    const batches: SignalDraft[][] = [];
    for (let i = 0; i < events; i += opts.batchSize) batches.push(Array.from({ length: Math.min(opts.batchSize, events - i) }, (_, j) => draft(i + j)));
    const t0 = performance.now();
    for (const b of batches) box.append(b);
    const seconds = (performance.now() - t0) / 1000;
    return { batch_size: opts.batchSize, synchronous, events, seconds, events_per_s: Math.round(events / seconds), commits_per_s: Math.round(batches.length / seconds) };
  } finally {
    box.close();
    tmp.dispose();
  }
}

export interface DrainFigures {
  broker: string;
  events: number;
  max_inflight: number;
  window: number;
  seconds: number;
  messages_per_s: number;
}

/**
 * Drain a backlog of `events` to a broker with QoS 1 and measure until the outbox is empty.
 * Without `url`, an embedded aedes broker is started (MQTT 3.1.1).
 */
export async function benchDrain(opts: { url?: string; events?: number; maxInflight?: number } = {}): Promise<DrainFigures> {
  const events = opts.events ?? 20_000;
  const maxInflight = opts.maxInflight ?? 64;
  const embedded = opts.url === undefined ? await startEmbeddedBroker() : undefined;
  const url = opts.url ?? embedded!.url;
  const tmp = tempFile();
  const box = SqliteOutbox.open({ file: tmp.file, agent: 'bench', site: 'bench', limits: LIMITS });
  for (let i = 0; i < events; i += 1000) box.append(Array.from({ length: Math.min(1000, events - i) }, (_, j) => draft(i + j)));
  const broker: BrokerConfig = {
    url,
    topic_prefix: 'otsentry-bench',
    keepalive_secs: 30,
    connect_timeout_ms: 5000,
    reconnect_min_ms: 100,
    reconnect_max_ms: 1000,
    max_inflight: maxInflight,
    status_interval_ms: 60_000,
    protocol_version: embedded ? 4 : 5,
  };
  const f = new Forwarder({ broker, agent: 'bench', site: 'bench', outbox: box });
  try {
    const t0 = performance.now();
    f.start();
    const deadline = Date.now() + 300_000;
    while (box.depth() > 0) {
      if (Date.now() > deadline) throw new Error(`drain bench: ${box.depth()} events left after 300 s; is the broker at ${url} accepting QoS 1?`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - t0) / 1000;
    return { broker: embedded ? 'embedded aedes' : url, events, max_inflight: maxInflight, window: f.stats().window, seconds, messages_per_s: Math.round(events / seconds) };
  } finally {
    await f.stop(1000);
    box.close();
    tmp.dispose();
    await embedded?.stop();
  }
}

/** All outbox figures: commits at batch 1 and 100 (FULL), and drain to `url` or an embedded broker. */
export async function benchOutbox(url?: string): Promise<{ commits: CommitFigures[]; drain: DrainFigures }> {
  const commits = [benchOutboxCommits({ batchSize: 1 }), benchOutboxCommits({ batchSize: 100 })];
  return { commits, drain: await benchDrain({ url }) };
}
