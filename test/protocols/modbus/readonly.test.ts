// The read-only invariant: no write function anywhere on the Modbus surface, nothing that can
// write reachable from a poller, every framing's server sees only allowed reads (across retries,
// reconnects and the FC43 fallback), and a write PDU is refused before a byte leaves.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardWrites, sendChecked } from '../../../protocols/modbus/allowlist.js';
import { modbusDeviceSchema, type ModbusDeviceConfig } from '../../../protocols/modbus/config.js';
import { ModbusError } from '../../../protocols/modbus/errors.js';
import { rtuFrame } from '../../../protocols/modbus/frame.js';
import { createLink, ModbusPoller } from '../../../protocols/modbus/poller.js';
import { deviceConfig, exception, mbapFrame, modelHandler, startPeer, type PeerAnswer, type PeerRequest } from './peers.js';
import { ptySkip, startPtyPair, startSerialPeer, type PtyPair } from './serial-peer.js';

const MODBUS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../protocols/modbus');

/** Every property name on an object and its prototype chain (own, inherited, non-enumerable). */
function allNames(obj: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = obj; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Reflect.ownKeys(o)) names.add(String(k));
  }
  return [...names];
}

/**
 * Walk everything reachable from root by property access (own and inherited keys, getters, Map
 * and Set entries) and list what could write: event emitters and streams (sockets, serial ports,
 * library clients), and functions named write* or send*. Buffers only write to memory: skipped.
 */
function reachableWriters(root: object): string[] {
  const seen = new Set<unknown>();
  const found: string[] = [];
  const visit = (v: unknown, at: string): void => {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return;
    if (v instanceof EventEmitter) found.push(`${at} (${v.constructor.name})`);
    if (v instanceof Map || v instanceof Set) for (const [k, x] of v.entries()) visit(x, `${at}[${String(k)}]`);
    for (let o: object | null = v; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
      for (const k of Reflect.ownKeys(o)) {
        const name = `${at}.${String(k)}`;
        const d = Object.getOwnPropertyDescriptor(o, k)!;
        let value: unknown = d.value;
        if (d.get) {
          try {
            value = d.get.call(v);
          } catch {
            value = undefined; // a getter of a prototype read without its instance
          }
        }
        if (typeof value === 'function' && /^(write|send)/i.test(String(k))) found.push(name);
        visit(value, name);
      }
    }
  };
  visit(root, 'poller');
  return found;
}

const TAGS = [
  { name: 'h', area: 'holding_register', address: 0 },
  { name: 'h9', area: 'holding_register', address: 9 },
  { name: 'i', area: 'input_register', address: 0 },
  { name: 'c', area: 'coil', address: 0 },
  { name: 'd', area: 'discrete_input', address: 0 },
];
const COUNTERS = { 0x0b: 1, 0x0c: 0, 0x0d: 0, 0x0e: 1, 0x0f: 0, 0x10: 0, 0x11: 0, 0x12: 0 };
const model = modelHandler({ identity: { 0: 'v', 1: 'p', 2: 'r' }, counters: COUNTERS });

/** Not an allowed read, by the Modbus spec's numbers (independent of allowlist.ts). */
function notAllowed(pdu: Buffer): string | null {
  const fc = pdu[0];
  if (fc >= 1 && fc <= 4) return pdu.length === 5 ? null : `FC${fc} of ${pdu.length} bytes`;
  if (fc === 8) {
    const sub = pdu.readUInt16BE(1);
    return sub >= 0x0b && sub <= 0x12 && pdu.readUInt16BE(3) === 0 ? null : `FC08 sub-function 0x${sub.toString(16)}`;
  }
  if (fc === 43) return pdu[1] === 0x0e ? null : `FC43 MEI ${pdu[1]}`;
  return `FC${fc}`;
}

/**
 * A device that makes the poller retry, fall back and reconnect: the first try of every read of
 * h9 gets no answer (timeout, retry), FC43 code 2 is refused (fallback to code 1), and the fifth
 * request drops the connection (TCP only; `drop` says how).
 */
function awkward(drop: ((sock: net.Socket) => void) | null): (req: PeerRequest) => PeerAnswer {
  let n = 0;
  let h9 = 0;
  return (req) => {
    n++;
    if (drop && n === 5) return (sock) => drop(sock);
    if (req.pdu[0] === 3 && req.pdu.readUInt16BE(1) === 9 && ++h9 % 2 === 1) return null;
    if (req.pdu[0] === 43 && req.pdu[2] === 2) return exception(43, 3);
    return model(req);
  };
}

/** A whole session: polls, facts (FC43 fallback, FC08), retries, a drop or close and reconnect. */
async function session(p: ModbusPoller): Promise<void> {
  const r1 = await p.poll();
  expect(r1.errors.some((e) => e.retried)).toBe(true);
  const facts = await p.readFacts(['identity', 'diagnostics']);
  expect(facts.map((f) => f.kind).sort()).toEqual(['diagnostics', 'identity']);
  await p.poll();
  await p.close(); // and reconnect
  const last = await p.poll();
  expect(last.samples.filter((s) => s.quality === 'good').length).toBeGreaterThan(0);
}

function expectOnlyReads(requests: PeerRequest[]): void {
  expect(requests.length).toBeGreaterThan(15);
  expect(requests.map((r) => notAllowed(r.pdu)).filter((x) => x !== null)).toEqual([]);
  expect(requests.some((r) => r.pdu[0] === 43 && r.pdu[2] === 1)).toBe(true); // the fallback happened
}

const TCP_VARIANTS = [
  { name: 'Modbus TCP, native client', transport: { type: 'tcp' }, framing: 'mbap' },
  { name: 'Modbus TCP, modbus-serial client', transport: { type: 'tcp', client: 'modbus-serial' }, framing: 'mbap' },
  { name: 'RTU over TCP', transport: { type: 'rtu_over_tcp' }, framing: 'rtu' },
] as const;

const WRITE_PDUS: [string, Buffer][] = [
  ['FC06 write single register', Buffer.from([6, 0, 1, 0, 1])],
  ['FC16 write multiple registers', Buffer.from([16, 0, 0, 0, 1, 2, 0, 7])],
  ['FC05 write single coil', Buffer.from([5, 0, 0, 0xff, 0])],
  ['FC08 sub 0x01 restart communications', Buffer.from([8, 0, 1, 0, 0])],
  ['FC08 sub 0x04 force listen only', Buffer.from([8, 0, 4, 0, 0])],
  ['FC08 sub 0x0A clear counters', Buffer.from([8, 0, 0x0a, 0, 0])],
  ['FC43 MEI 13 (CANopen)', Buffer.from([43, 0x0d, 0, 0])],
  ['FC03 of 126 registers', Buffer.from([3, 0, 0, 0, 126])],
  ['FC03 past address 65535', Buffer.from([3, 0xff, 0xff, 0, 2])],
];

describe.each(TCP_VARIANTS)('read-only, $name', (variant) => {
  it('nothing that can write is reachable from the poller after a session', async () => {
    const peer = await startPeer(model, { framing: variant.framing });
    const p = new ModbusPoller(deviceConfig(peer.port, TAGS, {}, variant.transport));
    try {
      await p.poll();
      await p.readFacts(['identity', 'diagnostics']);
      expect(p.isConnected()).toBe(true);
      expect(reachableWriters(p)).toEqual([]);
      expect(allNames(p).filter((n) => /^write/i.test(n))).toEqual([]);
    } finally {
      await p.close();
      await peer.close();
    }
  });

  it('the server sees only allowed reads, across retries, reconnects and the FC43 fallback', async () => {
    const peer = await startPeer(awkward((sock) => sock.destroy()), { framing: variant.framing });
    const p = new ModbusPoller(deviceConfig(peer.port, TAGS, { timeout_ms: 150, retries: 1 }, variant.transport));
    try {
      await session(p);
      expect(peer.connections).toBeGreaterThanOrEqual(3); // dropped once, closed once
      expectOnlyReads(peer.requests);
    } finally {
      await p.close();
      await peer.close();
    }
  });

  it('refuses write PDUs with request_refused before a byte is written', async () => {
    const peer = await startPeer(model, { framing: variant.framing });
    const link = createLink(deviceConfig(peer.port, TAGS, {}, variant.transport));
    try {
      await link.open();
      for (const [what, pdu] of WRITE_PDUS) {
        await expect(link.exchange(pdu), what).rejects.toMatchObject({ code: 'request_refused' });
      }
      // The link still works, and the server's first request is this read: nothing came before.
      const res = await link.exchange(Buffer.from([3, 0, 0, 0, 1]));
      expect(res[0]).toBe(3);
      expect(peer.requests.map((r) => r.pdu.toString('hex'))).toEqual(['0300000001']);
    } finally {
      await link.close();
      await peer.close();
    }
  });
});

if (ptySkip) console.info(`read-only serial RTU tests skipped: ${ptySkip}`);
describe.skipIf(ptySkip !== null)('read-only, RTU over a serial port (pty pair)', () => {
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await startPtyPair();
  });
  afterAll(async () => {
    await pty?.close();
  });
  const serialDevice = (extra: Record<string, unknown> = {}): ModbusDeviceConfig =>
    modbusDeviceSchema.parse({ id: 'dev1', protocol: 'modbus', retries: 0, ...extra, transport: { type: 'rtu', path: pty.ours, baud_rate: 19200, parity: 'none' }, tags: TAGS });

  it('the slave sees only allowed reads, across retries, reopening and the FC43 fallback; nothing that writes is reachable', async () => {
    const handler = awkward(null);
    const slave = await startSerialPeer(pty.theirs, (req) => handler(req) as Buffer | null);
    const p = new ModbusPoller(serialDevice({ timeout_ms: 150, retries: 1 }));
    try {
      await session(p);
      expect(reachableWriters(p)).toEqual([]);
      expectOnlyReads(slave.requests);
    } finally {
      await p.close();
      await slave.close();
    }
  });

  it('refuses write PDUs with request_refused before a byte is written', async () => {
    const slave = await startSerialPeer(pty.theirs, (req) => model(req) as Buffer);
    const link = createLink(serialDevice());
    try {
      await link.open();
      for (const [what, pdu] of WRITE_PDUS) {
        await expect(link.exchange(pdu), what).rejects.toMatchObject({ code: 'request_refused' });
      }
      await link.exchange(Buffer.from([3, 0, 0, 0, 1]));
      expect(slave.requests.map((r) => r.pdu.toString('hex'))).toEqual(['0300000001']);
    } finally {
      await link.close();
      await slave.close();
    }
  });
});

describe('the guard where bytes leave', () => {
  it('the walk finds a socket that is only TS-private', () => {
    const sock = new net.Socket();
    expect(reachableWriters({ hidden: { socket: sock } })).toContain('poller.hidden.socket (Socket)');
    sock.destroy();
  });

  it('sendChecked refuses a write frame on a real socket; the server receives nothing', async () => {
    const peer = await startPeer(model);
    const sock = net.connect(peer.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    try {
      expect(() => sendChecked(sock, mbapFrame(1, 1, Buffer.from([6, 0, 1, 0, 1])), 'mbap', 'test')).toThrow(ModbusError);
      expect(() => sendChecked(sock, mbapFrame(1, 1, Buffer.from([8, 0, 1, 0, 0])), 'mbap', 'test')).toThrow(/not a counter read/);
      sendChecked(sock, mbapFrame(2, 1, Buffer.from([3, 0, 0, 0, 1])), 'mbap', 'test');
      await new Promise((r) => sock.once('data', r));
      expect(peer.requests.map((r) => r.tid)).toEqual([2]);
    } finally {
      sock.destroy();
      await peer.close();
    }
  });

  it("modbus-serial's own write functions are refused once its port and socket are guarded", async () => {
    const peer = await startPeer(model);
    const client = new ModbusSerial.default();
    await client.connectTCP('127.0.0.1', { port: peer.port });
    client.setTimeout(300);
    const port = (client as unknown as { _port: { write: (b: Buffer) => void; _client: net.Socket } })._port;
    const refused: ModbusError[] = [];
    guardWrites(port, 'rtu', 'test', (e) => refused.push(e), true);
    guardWrites(port._client, 'mbap', 'test', (e) => refused.push(e), false);
    try {
      await expect(client.writeRegister(1, 5)).rejects.toMatchObject({ code: 'request_refused' });
      await expect(client.writeCoil(1, true)).rejects.toMatchObject({ code: 'request_refused' });
      expect(() => port.write(rtuFrame(1, Buffer.from([8, 0, 1, 0, 0])))).toThrow(/not a counter read/);
      expect(port._client.write(mbapFrame(9, 1, Buffer.from([16, 0, 0, 0, 1, 2, 0, 7])))).toBe(true); // swallowed, reported
      expect(refused.map((e) => e.code)).toEqual(['request_refused', 'request_refused', 'request_refused', 'request_refused']);
      const r = await client.readHoldingRegisters(0, 1);
      expect(r.data).toEqual([0]);
      expect(peer.requests.map((q) => q.pdu[0])).toEqual([3]);
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
      await peer.close();
    }
  });
});

describe('module exports', () => {
  it('no module under protocols/modbus exports a write function', async () => {
    const files = fs.readdirSync(MODBUS_DIR).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const mod = (await import(path.join(MODBUS_DIR, f))) as Record<string, unknown>;
      const writes = Object.keys(mod).filter((k) => /^write/i.test(k));
      expect(writes, f).toEqual([]);
      for (const [name, value] of Object.entries(mod)) {
        if (typeof value === 'function' && value.prototype) {
          const proto = Object.getOwnPropertyNames(value.prototype).filter((k) => /^write/i.test(k));
          expect(proto, `${f}: ${name}`).toEqual([]);
        }
      }
    }
  });
});
