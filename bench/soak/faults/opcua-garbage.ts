// Fault suite, OPC UA: a TCP endpoint that answers the agent's Hello with random and mutated
// frames (random bytes, a valid ACK or ERR with bytes flipped, lengths from 0 to 4 GB, truncation,
// a garbage answer to the OPN that follows a valid ACK, floods). The real OpcuaPoller connects over
// and over: every attempt must reject with a stable error code, poll() must never throw, nothing
// may escape as an uncaught error, and memory stays bounded. Seeded, so a failure can be replayed.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { silentLogger } from '../../../protocols/log.js';
import { opcuaDeviceSchema } from '../../../protocols/opcua/config.js';
import { OpcuaPoller } from '../../../protocols/opcua/poller.js';
import { agentPkiDir, ensureAgentCertificate, openCertificateManager } from '../../../protocols/opcua/pki.js';
import { createRng } from '../../../simulators/modbus/rng.js';

/** A UA TCP header: 3-letter type, 'F', total length (little endian). */
export function uaHeader(type: string, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.write(`${type}F`, 0, 'latin1');
  b.writeUInt32LE(length >>> 0, 4);
  return b;
}

/** A well-formed Acknowledge: protocol 0, 64 kB buffers, no message size or chunk limits. */
export function uaAck(): Buffer {
  const body = Buffer.alloc(20);
  [0, 65536, 65536, 0, 0].forEach((v, i) => body.writeUInt32LE(v, i * 4));
  return Buffer.concat([uaHeader('ACK', 28), body]);
}

/** Seeded uniform numbers in [0, 1) to pick mutations (the simulators' mulberry32). */
function prng(seed: number): () => number {
  return createRng(seed).next;
}

type Answer = (s: net.Socket, rnd: () => number) => void;
const bytes = (n: number, rnd: () => number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
const flip = (b: Buffer, rnd: () => number, times: number) => {
  const c = Buffer.from(b);
  for (let i = 0; i < times; i++) c[Math.floor(rnd() * c.length)] ^= 1 + Math.floor(rnd() * 255);
  return c;
};
const LENGTHS = [0, 4, 7, 8, 27, 28, 29, 65_535, 65_537, 0x7fffffff, 0xfffffff0];

/** What the endpoint does after the Hello, one picked per connection. */
const ANSWERS: Record<string, Answer> = {
  random: (s, r) => s.write(bytes(Math.floor(r() * 4096), r)),
  'random then close': (s, r) => s.end(bytes(Math.floor(r() * 512), r)),
  'ACK with flipped bytes': (s, r) => s.write(flip(uaAck(), r, 1 + Math.floor(r() * 4))),
  'ACK with a wrong length': (s, r) => s.write(Buffer.concat([uaHeader('ACK', LENGTHS[Math.floor(r() * LENGTHS.length)]), uaAck().subarray(8)])),
  'truncated ACK': (s, r) => s.write(uaAck().subarray(0, Math.floor(r() * 28))),
  'ERR with a wrong reason length': (s, r) => {
    const body = Buffer.alloc(8);
    body.writeUInt32LE(0x80000000 + Math.floor(r() * 0xffff), 0);
    body.writeInt32LE(Math.floor(r() * 2 ** 31) * (r() < 0.2 ? -1 : 1), 4);
    s.write(Buffer.concat([uaHeader('ERR', 16 + 16), body, bytes(16, r)]));
  },
  'header claiming a huge frame': (s, r) => s.write(Buffer.concat([uaHeader(['ACK', 'ERR', 'MSG', 'OPN'][Math.floor(r() * 4)], 0x10000000 + Math.floor(r() * 0xe0000000)), bytes(1024, r)])),
  'close at once': (s) => s.destroy(),
  'valid ACK, garbage OPN answer': (s, r) => {
    s.write(uaAck());
    s.once('data', () => s.write(Buffer.concat([uaHeader('OPN', 8 + 256), flip(bytes(256, r), r, 1)])));
  },
  flood: (s, r) => {
    const chunk = bytes(64 * 1024, r);
    let sent = 0;
    const pump = () => {
      while (sent < 8 * 1024 * 1024 && s.writable && s.write(chunk)) sent += chunk.length;
    };
    s.on('drain', pump);
    pump();
  },
};

export interface GarbageOptions {
  attempts: number;
  seed?: number;
  /** connect_timeout_ms of the device (an endpoint that never finishes costs this much) */
  connectTimeoutMs?: number;
  say?: (line: string) => void;
}

export interface GarbageFigures {
  attempts: number;
  seconds: number;
  /** error codes of the rejected connects */
  codes: Record<string, number>;
  /** connects that resolved (must be 0: no garbage makes a session) */
  accepted: number;
  /** poll() calls that threw (must be 0) */
  pollThrows: number;
  uncaught: string[];
  /** rss after the first attempts (node-opcua loaded, buffers warm), and the highest after that */
  rssWarmMb: number;
  rssMaxMb: number;
  ok: boolean;
}

const STABLE_CODES = new Set(['bad_response', 'connection_lost', 'timeout', 'connect_refused']);

export async function runOpcuaGarbage(o: GarbageOptions): Promise<GarbageFigures> {
  const rnd = prng(o.seed ?? 8);
  const names = Object.keys(ANSWERS);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const name = names[Math.floor(rnd() * names.length)];
    // Most answer the Hello; some speak first.
    if (rnd() < 0.1) ANSWERS[name](s, rnd);
    else s.once('data', () => ANSWERS[name](s, rnd));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-ua-garbage-'));
  const uncaught: string[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e instanceof Error ? e.message : String(e));
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const codes: Record<string, number> = {};
  let accepted = 0;
  let pollThrows = 0;
  const WARM_UP = Math.min(20, Math.floor(o.attempts / 2));
  let rssWarmMb = 0;
  let rssMaxMb = 0;
  const t0 = performance.now();
  try {
    const cm = await openCertificateManager(agentPkiDir(dir));
    await ensureAgentCertificate(cm);
    await cm.dispose();
    const dev = opcuaDeviceSchema.parse({
      id: 'ua-garbage',
      protocol: 'opcua',
      endpoint_url: `opc.tcp://127.0.0.1:${port}`,
      security_policy: 'None',
      security_mode: 'None',
      auth: { type: 'anonymous' },
      interval_ms: 1000,
      timeout_ms: 200,
      connect_timeout_ms: o.connectTimeoutMs ?? 300,
      tags: [{ name: 'level', node_id: 'ns=1;s=level' }],
    });
    const poller = new OpcuaPoller(dev, { pkiDir: agentPkiDir(dir), logger: silentLogger });
    for (let i = 0; i < o.attempts; i++) {
      try {
        await poller.connect();
        accepted++;
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        const key = typeof code === 'string' && STABLE_CODES.has(code) ? code : `unexpected: ${String(code)} ${(e as Error).message}`.slice(0, 200);
        codes[key] = (codes[key] ?? 0) + 1;
      }
      if (i % 10 === 0) await poller.poll().catch(() => pollThrows++);
      const rss = process.memoryUsage().rss / 2 ** 20;
      if (i + 1 === WARM_UP) rssWarmMb = rss;
      if (i + 1 >= WARM_UP) rssMaxMb = Math.max(rssMaxMb, rss);
      if (o.say && (i + 1) % 500 === 0) o.say(`    ${i + 1} attempts, rss ${rssMaxMb.toFixed(0)} MB max`);
    }
    await poller.close();
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const unexpected = Object.keys(codes).filter((c) => !STABLE_CODES.has(c));
  // A leak would grow with the attempts; after the warm-up V8's heap breathes well under this.
  const ok = accepted === 0 && pollThrows === 0 && uncaught.length === 0 && unexpected.length === 0 && rssMaxMb - rssWarmMb < 128;
  const f: GarbageFigures = { attempts: o.attempts, seconds, codes, accepted, pollThrows, uncaught, rssWarmMb, rssMaxMb, ok };
  o.say?.(`  ${o.attempts} connects to a garbage endpoint in ${seconds.toFixed(1)} s (${(o.attempts / seconds).toFixed(0)}/s): ${Object.entries(codes).map(([c, n]) => `${c} ${n}`).join(', ')}`);
  o.say?.(`  sessions opened ${accepted}, poll() throws ${pollThrows}, uncaught ${uncaught.length}; rss ${rssWarmMb.toFixed(0)} MB after ${WARM_UP} attempts, ${rssMaxMb.toFixed(0)} MB max after: ${ok ? 'ok' : 'FAILED'}`);
  return f;
}
