// Shared pieces for forwarder tests: broker config, a log capture, signal parsing helpers.
import type { BrokerConfig } from '../../agent/config/schema.js';
import { createLogger, type Logger } from '../../protocols/log.js';
import type { RiskSignal } from '../../rules/signal.js';
import type { Received } from '../helpers/broker.js';

export function brokerConfig(url: string, over: Partial<BrokerConfig> = {}): BrokerConfig {
  return {
    url,
    topic_prefix: 'otsentry',
    keepalive_secs: 30,
    connect_timeout_ms: 3000,
    reconnect_min_ms: 100,
    reconnect_max_ms: 1000,
    max_inflight: 64,
    status_interval_ms: 30_000,
    protocol_version: 5,
    ...over,
  };
}

export interface LogLine {
  level: number;
  msg: string;
  error_code?: string;
  [k: string]: unknown;
}

export function captureLog(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger('debug', { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

export function signals(messages: Received[]): RiskSignal[] {
  return messages.map((m) => JSON.parse(m.payload) as RiskSignal);
}

/** Seqs in order of first arrival. */
export function firstArrivals(messages: Received[]): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const s of signals(messages)) {
    if (!seen.has(s.seq)) {
      seen.add(s.seq);
      out.push(s.seq);
    }
  }
  return out;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
