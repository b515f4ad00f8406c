// The fuzzing Modbus peer: a loopback TCP server that answers each request of the native link with
// one random or mutated answer (Modbus TCP MBAP or RTU frames), and the pure pieces both sides
// share: a seeded PRNG, the device model's true answer, and the mutations.
import net from 'node:net';
import { crc16 } from '../../protocols/modbus/frame.js';
import { createRng } from '../../simulators/modbus/rng.js';

export type FuzzFraming = 'mbap' | 'rtu';

/** Seeded uniform numbers in [0, 1) to pick mutations (the simulators' mulberry32). */
export function prng(seed: number): () => number {
  return createRng(seed).next;
}

const int = (rnd: () => number, n: number): number => Math.floor(rnd() * n);

const IDENTITY = ['fuzz vendor', 'FZ-1', '1.0', 'https://example.invalid', 'fuzz product', 'model 9', 'app'];

/** A random allowed request PDU: reads of every area, FC08 counter reads, FC43 codes 1 and 2. */
export function randomRequest(rnd: () => number): Buffer {
  const k = int(rnd, 10);
  if (k < 6) {
    const fc = 1 + int(rnd, 4);
    const qty = 1 + int(rnd, fc <= 2 ? 40 : 12);
    const addr = int(rnd, 1000);
    return Buffer.from([fc, addr >> 8, addr & 0xff, qty >> 8, qty & 0xff]);
  }
  if (k < 8) return Buffer.from([8, 0, 0x0b + int(rnd, 8), 0, 0]);
  return Buffer.from([43, 0x0e, 1 + int(rnd, 2), 0]);
}

/** The device model's correct answer PDU to an allowed request. */
export function trueAnswer(req: Buffer): Buffer {
  const fc = req[0];
  if (fc >= 1 && fc <= 4) {
    const addr = req.readUInt16BE(1);
    const qty = req.readUInt16BE(3);
    if (fc <= 2) {
      const bytes = Buffer.alloc((qty + 7) >> 3);
      for (let i = 0; i < qty; i++) if ((addr + i) % (fc + 2) === 0) bytes[i >> 3] |= 1 << (i & 7);
      return Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
    }
    const out = Buffer.alloc(2 + qty * 2);
    out[0] = fc;
    out[1] = qty * 2;
    for (let i = 0; i < qty; i++) out.writeUInt16BE(((addr + i) * (fc === 3 ? 7 : 13)) & 0xffff, 2 + i * 2);
    return out;
  }
  if (fc === 8) return Buffer.from([8, 0, req[2], 0, req[2] * 3]);
  const code = req[2];
  const ids = code === 1 ? [0, 1, 2] : [0, 1, 2, 3, 4, 5, 6];
  const parts = [Buffer.from([43, 0x0e, code, 0x82, 0, 0, ids.length])];
  for (const id of ids) parts.push(Buffer.from([id, IDENTITY[id].length]), Buffer.from(IDENTITY[id], 'latin1'));
  return Buffer.concat(parts);
}

export function frameAnswer(framing: FuzzFraming, tid: number, unit: number, pdu: Buffer): Buffer {
  if (framing === 'mbap') {
    const out = Buffer.alloc(7 + pdu.length);
    out.writeUInt16BE(tid, 0);
    out.writeUInt16BE(pdu.length + 1, 4);
    out[6] = unit;
    pdu.copy(out, 7);
    return out;
  }
  return withCrc(Buffer.concat([Buffer.from([unit]), pdu, Buffer.alloc(2)]));
}

/** Recompute an RTU frame's CRC in place (garbage that passes the CRC reaches the deeper checks). */
function withCrc(frame: Buffer): Buffer {
  if (frame.length >= 3) frame.writeUInt16LE(crc16(frame, 0, frame.length - 2), frame.length - 2);
  return frame;
}

const randomBytes = (rnd: () => number, n: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(rnd, 256);
  return b;
};

/** Mutation names, in the order mutate() picks them by index. */
export const MUTATIONS = [
  'unchanged',
  'bit_flips',
  'random_bytes_set',
  'truncated',
  'extra_bytes',
  'byte_inserted',
  'byte_deleted',
  'pure_random',
  'header_field',
  'random_pdu_valid_framing',
  'byte_count_valid_framing',
  'exception_answer',
  'two_answers',
  'fc43_object_list',
  'oversized',
] as const;

export type Mutation = (typeof MUTATIONS)[number];

/** Mutation `m` of the correct answer frame (random where the mutation is); the bytes to send. */
export function mutate(rnd: () => number, m: Mutation, framing: FuzzFraming, tid: number, unit: number, truth: Buffer): Buffer {
  const b = frameAnswer(framing, tid, unit, truth);
  switch (m) {
    case 'unchanged':
      return b;
    case 'bit_flips':
      for (let i = 1 + int(rnd, 4); i > 0; i--) b[int(rnd, b.length)] ^= 1 << int(rnd, 8);
      return b;
    case 'random_bytes_set':
      for (let i = 1 + int(rnd, 4); i > 0; i--) b[int(rnd, b.length)] = int(rnd, 256);
      return b;
    case 'truncated':
      return b.subarray(0, int(rnd, b.length));
    case 'extra_bytes':
      return Buffer.concat([b, randomBytes(rnd, 1 + int(rnd, 20))]);
    case 'byte_inserted': {
      const at = int(rnd, b.length + 1);
      return Buffer.concat([b.subarray(0, at), randomBytes(rnd, 1), b.subarray(at)]);
    }
    case 'byte_deleted': {
      const at = int(rnd, b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    }
    case 'pure_random':
      return randomBytes(rnd, int(rnd, 300));
    case 'header_field': {
      const special = [0, 1, 2, 3, 254, 255, 256, 0xffff, int(rnd, 0x10000)];
      const v = special[int(rnd, special.length)];
      if (framing === 'mbap') b.writeUInt16BE(v, 2 * int(rnd, 3)); // tid, protocol id or length
      else if (b.length > 2) b[int(rnd, 3)] = v & 0xff; // unit, function code or byte count
      return b;
    }
    case 'random_pdu_valid_framing': {
      const pdu = randomBytes(rnd, 1 + int(rnd, 253));
      if (rnd() < 0.5) pdu[0] = truth[0]; // same function code: the deeper checks must catch it
      return frameAnswer(framing, tid, unit, pdu);
    }
    case 'byte_count_valid_framing': {
      const pdu = Buffer.from(truth);
      pdu[1] = int(rnd, 256);
      return frameAnswer(framing, tid, unit, rnd() < 0.5 ? pdu : pdu.subarray(0, Math.max(2, int(rnd, pdu.length))));
    }
    case 'exception_answer':
      return frameAnswer(framing, tid, unit, Buffer.from([truth[0] | 0x80, int(rnd, 256)]));
    case 'two_answers':
      return Buffer.concat([b, rnd() < 0.5 ? b : randomBytes(rnd, int(rnd, 40))]);
    case 'fc43_object_list': {
      const pdu = truth[0] === 43 ? Buffer.from(truth) : Buffer.concat([Buffer.from([43, 0x0e, 1, 0x82, 0, 0, 1, 0, 1]), Buffer.from('x')]);
      const at = 6 + int(rnd, pdu.length - 6); // object count, an id or a length
      pdu[at] = rnd() < 0.5 ? 0xff : int(rnd, 256);
      return frameAnswer(framing, tid, unit, pdu);
    }
    case 'oversized':
      return framing === 'mbap' ? Buffer.concat([b.subarray(0, 4), Buffer.from([0x01, 0x00]), randomBytes(rnd, 2000)]) : randomBytes(rnd, 2000);
  }
}

export interface FuzzPeer {
  port: number;
  /** answers sent, by mutation name */
  sent: Record<string, number>;
  /** the mutation of the last answer sent to each unit id (the fuzz gives each link its own) */
  lastMutation: Map<number, Mutation>;
  close(): Promise<void>;
}

/** Requests the native link sends: MBAP by its length field; RTU 8 bytes, FC43 7. */
function takeRequest(framing: FuzzFraming, rx: Buffer): { used: number; tid: number; unit: number; pdu: Buffer } | null {
  if (framing === 'mbap') {
    if (rx.length < 7) return null;
    const len = rx.readUInt16BE(4);
    if (rx.length < 6 + len) return null;
    return { used: 6 + len, tid: rx.readUInt16BE(0), unit: rx[6], pdu: rx.subarray(7, 6 + len) };
  }
  if (rx.length < 2) return null;
  const len = rx[1] === 43 ? 7 : 8;
  if (rx.length < len) return null;
  return { used: len, tid: 0, unit: rx[0], pdu: rx.subarray(1, len - 2) };
}

/** Start the peer; each answer is written in one to three pieces. */
export async function startFuzzPeer(framing: FuzzFraming, seed: number): Promise<FuzzPeer> {
  const rnd = prng(seed);
  const sockets = new Set<net.Socket>();
  const sent: Record<string, number> = {};
  const lastMutation = new Map<number, Mutation>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
    let rx: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      rx = rx.length ? Buffer.concat([rx, chunk]) : chunk;
      for (let r = takeRequest(framing, rx); r; r = takeRequest(framing, rx)) {
        rx = rx.subarray(r.used);
        const m = MUTATIONS[int(rnd, MUTATIONS.length)];
        sent[m] = (sent[m] ?? 0) + 1;
        lastMutation.set(r.unit, m);
        const out = mutate(rnd, m, framing, r.tid, r.unit, trueAnswer(Buffer.from(r.pdu)));
        const pieces = 1 + int(rnd, 3);
        for (let i = 0, at = 0; i < pieces; i++) {
          const end = i === pieces - 1 ? out.length : Math.min(out.length, at + int(rnd, out.length - at + 1));
          if (end > at) sock.write(out.subarray(at, end));
          at = end;
        }
      }
      if (rx.length > 1024) sock.destroy(); // not the link's requests: never expected
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sent,
    lastMutation,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
