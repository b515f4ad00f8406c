// The independent consumer of the fault suite: a QoS 1 subscriber with a persistent session that
// writes every event as a `mosquitto_sub -v` line (topic, space, payload) to a capture file, and
// the checks on that file: seq continuity, order of first arrival, duplicates, hash chain.
import fs from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { verifyChain } from '../../../agent/outbox/index.js';
import type { RiskSignal } from '../../../agent/signal.js';

export interface Capture {
  file: string;
  /** messages written (duplicates included) */
  messages(): number;
  /** highest n such that every seq 1..n has arrived */
  contiguous(): number;
  /** resolve once every seq 1..seq has arrived; reject after timeoutMs */
  waitContiguous(seq: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Subscribe to `topic` (QoS 1, clean: false, a fixed client id) and resolve once subscribed. The
 * session outlives a broker restart when the broker persists sessions; start it before the agent.
 */
export async function startCapture(url: string, topic: string, file: string): Promise<Capture> {
  const fd = fs.openSync(file, 'a');
  const seen = new Set<number>();
  let count = 0;
  let prefix = 0;
  const client: MqttClient = mqtt.connect(url, {
    clientId: `otsentry-fault-capture-${process.pid}-${Date.now()}`,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 100,
    connectTimeout: 5000,
  });
  client.on('error', () => undefined);
  client.on('message', (t, payload) => {
    // Written before mqtt.js sends the PUBACK, so an acked message is on disk.
    fs.writeSync(fd, `${t} ${payload.toString('utf8')}\n`);
    count++;
    const seq = seqOf(payload.toString('utf8'));
    if (seq !== undefined) seen.add(seq);
    while (seen.has(prefix + 1)) prefix++;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`capture: no connection to ${url} within 10 s`)), 10_000);
    client.once('connect', () =>
      client.subscribe(topic, { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      }),
    );
  });
  return {
    file,
    messages: () => count,
    contiguous: () => prefix,
    async waitContiguous(seq, timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (prefix < seq) {
        if (Date.now() > until) throw new Error(`capture: seqs 1..${seq} did not all arrive within ${timeoutMs} ms (every seq up to ${prefix} did; ${count} messages)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
      fs.closeSync(fd);
    },
  };
}

function seqOf(payload: string): number | undefined {
  try {
    const s = (JSON.parse(payload) as { seq?: unknown }).seq;
    return typeof s === 'number' ? s : undefined;
  } catch {
    return undefined;
  }
}

export interface CaptureCheck {
  /** event messages in the file, duplicates included */
  messages: number;
  unique: number;
  duplicates: number;
  /** seqs of 1..lastSeq that never arrived */
  lost: number;
  /** first arrivals of a seq lower than one that had already arrived */
  reordered: number;
  /** lines that are not a JSON signal */
  unreadable: number;
  /** resends whose id or hash differs from the first arrival of that seq */
  conflicting: number;
  /** hash and chain problems found by verifyChain, one sentence each */
  chain: string[];
  ok: boolean;
}

/** Check a capture against the last committed seq: 0 lost, 0 reordered, a valid chain. */
export function checkCapture(file: string, lastSeq: number): CaptureCheck {
  const bySeq = new Map<number, RiskSignal>();
  let messages = 0;
  let unreadable = 0;
  let reordered = 0;
  let highest = 0;
  let duplicates = 0;
  let conflicting = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    if (!line.slice(0, space).endsWith('/events')) continue;
    messages++;
    let s: RiskSignal;
    try {
      s = JSON.parse(line.slice(space + 1)) as RiskSignal;
    } catch {
      unreadable++;
      continue;
    }
    const before = bySeq.get(s.seq);
    if (before !== undefined) {
      duplicates++;
      // A resend must be the same event, byte for byte in content.
      if (before.id !== s.id || before.hash !== s.hash) conflicting++;
      continue;
    }
    bySeq.set(s.seq, s);
    if (s.seq < highest) reordered++;
    highest = Math.max(highest, s.seq);
  }
  let lost = 0;
  for (let seq = 1; seq <= lastSeq; seq++) if (!bySeq.has(seq)) lost++;
  const sorted = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const chain = verifyChain(sorted).problems;
  return {
    messages,
    unique: bySeq.size,
    duplicates,
    lost,
    reordered,
    unreadable,
    conflicting,
    chain,
    ok: lost === 0 && reordered === 0 && unreadable === 0 && conflicting === 0 && chain.length === 0 && bySeq.size === lastSeq,
  };
}

/** One line for the report. */
export function describeCheck(c: CaptureCheck, lastSeq: number): string {
  const chain = c.chain.length === 0 ? 'chain valid' : `${c.chain.length} chain problems (first: ${c.chain[0]})`;
  return `seq 1..${lastSeq}: ${c.unique} unique of ${c.messages} messages, ${c.lost} lost, ${c.reordered} reordered, ${c.duplicates} duplicates, ${c.unreadable} unreadable, ${c.conflicting} conflicting, ${chain}`;
}
