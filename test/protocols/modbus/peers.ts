// Scriptable Modbus peers for tests: a raw Modbus TCP or RTU-over-TCP server whose answer to each
// request comes from a handler (answer, stay silent, send garbage, drop the connection), and a
// register-map handler that behaves like a small device.
import net from 'node:net';
import { modbusDeviceSchema, type ModbusDeviceConfig } from '../../../protocols/modbus/config.js';
import { crc16 } from '../../../protocols/modbus/frame.js';

export interface PeerRequest {
  tid: number;
  unit: number;
  pdu: Buffer;
  /** ms since the peer started, when the request arrived */
  at: number;
}

/** A response PDU, null to stay silent, or a function that does something raw with the socket. */
export type PeerAnswer = Buffer | null | ((sock: net.Socket, req: PeerRequest) => void);

export interface Peer {
  port: number;
  requests: PeerRequest[];
  connections: number;
  /** most requests that were waiting for an answer at the same time on one connection */
  maxInFlight: number;
  dropClients(): void;
  close(): Promise<void>;
}

export interface PeerOptions {
  framing?: 'mbap' | 'rtu';
  /** answer after this many ms (the peer keeps reading meanwhile) */
  delayMs?: number | ((req: PeerRequest) => number);
}

export async function startPeer(handler: (req: PeerRequest) => PeerAnswer, opts: PeerOptions = {}): Promise<Peer> {
  const framing = opts.framing ?? 'mbap';
  const t0 = performance.now();
  const sockets = new Set<net.Socket>();
  const peer: Peer = {
    port: 0,
    requests: [],
    connections: 0,
    maxInFlight: 0,
    dropClients: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        peer.dropClients();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((sock) => {
    peer.connections++;
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let rx = Buffer.alloc(0);
    let inFlight = 0;
    sock.on('data', (chunk) => {
      rx = Buffer.concat([rx, chunk]);
      for (;;) {
        const taken = framing === 'mbap' ? takeMbap(rx) : takeRtu(rx);
        if (!taken) break;
        rx = rx.subarray(taken.used);
        const req: PeerRequest = { ...taken.req, at: performance.now() - t0 };
        peer.requests.push(req);
        inFlight++;
        peer.maxInFlight = Math.max(peer.maxInFlight, inFlight);
        const answer = handler(req);
        const send = (): void => {
          inFlight--;
          if (sock.destroyed) return;
          if (typeof answer === 'function') answer(sock, req);
          else if (answer) sock.write(framing === 'mbap' ? mbapFrame(req.tid, req.unit, answer) : rtuAnswer(req.unit, answer));
        };
        const delay = typeof opts.delayMs === 'function' ? opts.delayMs(req) : (opts.delayMs ?? 0);
        if (delay > 0) setTimeout(send, delay);
        else send();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.port = (server.address() as net.AddressInfo).port;
  return peer;
}

function takeMbap(rx: Buffer): { used: number; req: Omit<PeerRequest, 'at'> } | null {
  if (rx.length < 7) return null;
  const len = rx.readUInt16BE(4);
  if (rx.length < 6 + len) return null;
  return { used: 6 + len, req: { tid: rx.readUInt16BE(0), unit: rx[6], pdu: Buffer.from(rx.subarray(7, 6 + len)) } };
}

/** Requests the poller sends are 8 bytes (FC01-04, FC08) or 7 bytes (FC43). */
export function takeRtu(rx: Buffer): { used: number; req: Omit<PeerRequest, 'at'> } | null {
  if (rx.length < 2) return null;
  const len = rx[1] === 43 ? 7 : 8;
  if (rx.length < len) return null;
  return { used: len, req: { tid: 0, unit: rx[0], pdu: Buffer.from(rx.subarray(1, len - 2)) } };
}

export function mbapFrame(tid: number, unit: number, pdu: Buffer): Buffer {
  const out = Buffer.alloc(7 + pdu.length);
  out.writeUInt16BE(tid, 0);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unit;
  pdu.copy(out, 7);
  return out;
}

export function rtuAnswer(unit: number, pdu: Buffer): Buffer {
  const out = Buffer.alloc(pdu.length + 3);
  out[0] = unit;
  pdu.copy(out, 1);
  out.writeUInt16LE(crc16(out, 0, pdu.length + 1), pdu.length + 1);
  return out;
}

export const exception = (fc: number, code: number): Buffer => Buffer.from([fc | 0x80, code]);

/** A parsed device config for tests (schema defaults applied). */
export function deviceConfig(port: number, tags: object[], extra: Record<string, unknown> = {}, transport: Record<string, unknown> = {}): ModbusDeviceConfig {
  return modbusDeviceSchema.parse({
    id: 'dev1',
    protocol: 'modbus',
    timeout_ms: 300,
    retries: 0,
    ...extra,
    transport: { type: 'tcp', host: '127.0.0.1', port, ...transport },
    tags,
  });
}

/** Holding registers 0..n-1 as uint16 tags named h0.. */
export const holdingTags = (n: number, from = 0): object[] =>
  Array.from({ length: n }, (_, i) => ({ name: `h${from + i}`, area: 'holding_register', address: from + i }));

export interface DeviceModel {
  holding?: (addr: number) => number;
  input?: (addr: number) => number;
  coil?: (addr: number) => boolean;
  discrete?: (addr: number) => boolean;
  /** FC43 objects by id; null = illegal function; 'basic' limits answers to code 1 (objects 0-2) */
  identity?: Record<number, string> | null;
  identityBasicOnly?: boolean;
  /** answer FC43 in pieces of this many objects (more follows) */
  identityChunk?: number;
  /** FC08 counters by sub-function; null = illegal function */
  counters?: Record<number, number> | null;
}

/** A handler that answers like a small device with the given register map. */
export function modelHandler(model: DeviceModel): (req: PeerRequest) => PeerAnswer {
  const holding = model.holding ?? ((a: number) => a & 0xffff);
  const input = model.input ?? ((a: number) => (a + 1000) & 0xffff);
  const coil = model.coil ?? ((a: number) => a % 3 === 0);
  const discrete = model.discrete ?? ((a: number) => a % 2 === 1);
  return (req) => {
    const fc = req.pdu[0];
    if (fc >= 1 && fc <= 4) {
      const addr = req.pdu.readUInt16BE(1);
      const qty = req.pdu.readUInt16BE(3);
      if (fc <= 2) {
        const bytes = Buffer.alloc((qty + 7) >> 3);
        const get = fc === 1 ? coil : discrete;
        for (let i = 0; i < qty; i++) if (get(addr + i)) bytes[i >> 3] |= 1 << (i & 7);
        return Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
      }
      const out = Buffer.alloc(2 + qty * 2);
      out[0] = fc;
      out[1] = qty * 2;
      const get = fc === 3 ? holding : input;
      for (let i = 0; i < qty; i++) out.writeUInt16BE(get(addr + i) & 0xffff, 2 + i * 2);
      return out;
    }
    if (fc === 8) {
      if (model.counters === null || model.counters === undefined) return exception(8, 1);
      const sub = req.pdu.readUInt16BE(1);
      const v = model.counters[sub];
      if (v === undefined) return exception(8, 3);
      const out = Buffer.from(req.pdu);
      out.writeUInt16BE(v, 3);
      return out;
    }
    if (fc === 43) {
      if (!model.identity) return exception(43, 1);
      const code = req.pdu[2];
      if (code !== 1 && model.identityBasicOnly) return exception(43, 3);
      const ids = Object.keys(model.identity)
        .map(Number)
        .filter((id) => id >= req.pdu[3] && (code !== 1 || id <= 2))
        .sort((a, b) => a - b);
      const chunk = model.identityChunk ?? ids.length;
      const now = ids.slice(0, chunk);
      const rest = ids.slice(chunk);
      const parts: Buffer[] = [Buffer.from([43, 0x0e, code, 0x82, rest.length ? 0xff : 0, rest.length ? rest[0] : 0, now.length])];
      for (const id of now) {
        const s = Buffer.from(model.identity[id], 'latin1');
        parts.push(Buffer.from([id, s.length]), s);
      }
      return Buffer.concat(parts);
    }
    return exception(fc, 1);
  };
}
