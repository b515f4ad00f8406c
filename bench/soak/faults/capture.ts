// The independent consumer of the fault suite: a QoS 1 subscriber with a persistent session that
// writes every event as a `mosquitto_sub -v` line (topic, space, payload) to a capture file, and
// the checks on that file: seq continuity, order of first arrival, duplicates, hashes and links.
import { verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import mqtt, { type MqttClient } from 'mqtt';
import { GAP_RULE, GENESIS_HASH, hashSignal } from '../../../agent/outbox/index.js';
import type { RiskSignal } from '../../../rules/signal.js';

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
  /** resends that differ from the first arrival of that seq (id, hash) or do not match their hash */
  conflicting: number;
  /** signatures were checked (a public key was given) */
  signaturesChecked: boolean;
  /** events whose Ed25519 signature does not verify under the agent's key, or that carry none */
  badSignatures: number;
  /** hash, chain and signature problems, one sentence each (at most 20 kept) */
  chain: string[];
  ok: boolean;
}

interface Link {
  id: string;
  hash: string;
  prev: string;
}

/**
 * Check a capture against the last committed seq: 0 lost, 0 reordered, every hash and link valid,
 * and with the agent's public key every signature. Streams the file and keeps only id and hashes
 * per seq, so a capture of millions of events fits.
 */
export async function checkCapture(file: string, lastSeq: number, publicKey?: KeyObject): Promise<CaptureCheck> {
  const bySeq = new Map<number, Link>();
  const chain: string[] = [];
  const problem = (p: string) => {
    if (chain.length < 20) chain.push(p);
  };
  let messages = 0;
  let unreadable = 0;
  let reordered = 0;
  let highest = 0;
  let duplicates = 0;
  let conflicting = 0;
  let badSignatures = 0;
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const space = line.indexOf(' ');
    if (space < 0 || !line.slice(0, space).endsWith('/events')) continue;
    messages++;
    let s: RiskSignal;
    try {
      s = JSON.parse(line.slice(space + 1)) as RiskSignal;
    } catch {
      unreadable++;
      continue;
    }
    if (typeof s.seq !== 'number' || typeof s.hash !== 'string') {
      unreadable++;
      continue;
    }
    const before = bySeq.get(s.seq);
    if (before !== undefined) {
      duplicates++;
      // A resend must be the same event, unmodified.
      if (before.id !== s.id || before.hash !== s.hash || hashSignal(s) !== s.hash) conflicting++;
      continue;
    }
    if (hashSignal(s) !== s.hash) problem(`seq ${s.seq}: hash does not match the content (event modified).`);
    if (publicKey !== undefined && !(typeof s.sig === 'string' && verify(null, Buffer.from(s.hash, 'ascii'), publicKey, Buffer.from(s.sig, 'base64')))) {
      badSignatures++;
      problem(`seq ${s.seq}: ${s.sig === undefined ? 'not signed' : 'signature does not verify under the agent key'}.`);
    }
    if (s.rule === GAP_RULE) problem(`seq ${s.seq}: retention dropped events (${s.message}).`);
    bySeq.set(s.seq, { id: s.id, hash: s.hash, prev: s.prev_hash });
    if (s.seq < highest) reordered++;
    highest = Math.max(highest, s.seq);
  }
  let lost = 0;
  let prev: Link | undefined;
  for (let seq = 1; seq <= lastSeq; seq++) {
    const l = bySeq.get(seq);
    if (l === undefined) lost++;
    else if (seq === 1 ? l.prev !== GENESIS_HASH : prev !== undefined && l.prev !== prev.hash) problem(`seq ${seq}: prev_hash does not match the hash of seq ${seq - 1} (chain broken).`);
    prev = l;
  }
  const unique = bySeq.size;
  return {
    messages,
    unique,
    duplicates,
    lost,
    reordered,
    unreadable,
    conflicting,
    signaturesChecked: publicKey !== undefined,
    badSignatures,
    chain,
    ok: lost === 0 && reordered === 0 && unreadable === 0 && conflicting === 0 && chain.length === 0 && unique === lastSeq,
  };
}

/** One line for the report. */
export function describeCheck(c: CaptureCheck, lastSeq: number): string {
  const chain = c.chain.length === 0 ? 'chain valid' : `${c.chain.length} chain problems (first: ${c.chain[0]})`;
  return `seq 1..${lastSeq}: ${c.unique} unique of ${c.messages} messages, ${c.lost} lost, ${c.reordered} reordered, ${c.duplicates} duplicates, ${c.unreadable} unreadable, ${c.conflicting} conflicting, ${c.signaturesChecked ? `${c.badSignatures} bad signatures` : 'signatures not checked'}, ${chain}`;
}
