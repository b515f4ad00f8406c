// Test helpers for the Modbus simulator: a raw TCP wire (exact bytes in and out), frame builders,
// and a simulator started per test.
import net from 'node:net';
import ModbusSerial from 'modbus-serial';

/** The modbus-serial client class (a CommonJS default export seen from ESM). */
export type ModbusClient = InstanceType<typeof ModbusSerial.default>;
import { crc16 } from '../../simulators/modbus/crc.js';
import { startModbusSimulator, type ModbusSimulator, type SimulatorConfigInput } from '../../simulators/modbus/index.js';

export class Wire {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, noDelay: true }, () => resolve(new Wire(s)));
      s.once('error', reject);
    });
  }

  send(b: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(b) ? b : Buffer.from(b));
  }

  /** The next n bytes; rejects after timeoutMs. */
  async read(n: number, timeoutMs = 2000): Promise<Buffer> {
    const end = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`connection closed with ${this.buf.length} of ${n} bytes`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timeout: ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(out);
  }

  /** Whatever arrives within ms (for "no response" checks). */
  async drain(ms: number): Promise<Buffer> {
    await new Promise((r) => setTimeout(r, ms));
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function mbap(tid: number, unit: number, pdu: Buffer | number[]): Buffer {
  const p = Buffer.isBuffer(pdu) ? pdu : Buffer.from(pdu);
  const h = Buffer.alloc(7);
  h.writeUInt16BE(tid, 0);
  h.writeUInt16BE(p.length + 1, 4);
  h[6] = unit;
  return Buffer.concat([h, p]);
}

export function rtu(unit: number, pdu: Buffer | number[]): Buffer {
  const body = Buffer.concat([Buffer.from([unit]), Buffer.isBuffer(pdu) ? pdu : Buffer.from(pdu)]);
  const crc = crc16(body);
  return Buffer.concat([body, Buffer.from([crc & 0xff, crc >>> 8])]);
}

/** One Modbus TCP request; resolves to the response PDU (checks tid and unit). */
export async function tcpCall(w: Wire, unit: number, pdu: Buffer | number[], tid = 7): Promise<Buffer> {
  w.send(mbap(tid, unit, pdu));
  const h = await w.read(7);
  if (h.readUInt16BE(0) !== tid) throw new Error(`transaction id ${h.readUInt16BE(0)}, expected ${tid}`);
  if (h[6] !== unit) throw new Error(`unit ${h[6]}, expected ${unit}`);
  return w.read(h.readUInt16BE(4) - 1);
}

/** One RTU request; the response length comes from its function code (FC08 answers assumed 2 data bytes). */
export async function rtuCall(w: Wire, unit: number, pdu: Buffer | number[]): Promise<Buffer> {
  w.send(rtu(unit, pdu));
  const parts = [await w.read(2)];
  const fc = parts[0][1];
  const more = async (n: number) => {
    const b = await w.read(n);
    parts.push(b);
    return b;
  };
  if (fc & 0x80) await more(1);
  else if (fc >= 1 && fc <= 4) await more((await more(1))[0]);
  else if (fc === 8 || fc === 5 || fc === 6 || fc === 15 || fc === 16) await more(4);
  else if (fc === 0x2b) {
    const h = await more(6);
    for (let i = 0; i < h[5]; i++) await more((await more(2))[1]);
  } else throw new Error(`unexpected function code ${fc}`);
  await more(2);
  const got = Buffer.concat(parts);
  const crc = crc16(got, 0, got.length - 2);
  if (got[got.length - 2] !== (crc & 0xff) || got[got.length - 1] !== crc >>> 8) throw new Error(`bad CRC in ${got.toString('hex')}`);
  if (got[0] !== unit) throw new Error(`unit ${got[0]}, expected ${unit}`);
  return got.subarray(1, got.length - 2);
}

export function u16(...v: number[]): number[] {
  return v.flatMap((x) => [x >> 8, x & 0xff]);
}

/** Start a simulator; the returned stop is safe to call twice. */
export async function startSim(config: SimulatorConfigInput): Promise<ModbusSimulator> {
  return startModbusSimulator(config, {});
}

/** A modbus-serial client over Modbus TCP or RTU over TCP (its "telnet" port sends raw RTU frames). */
export async function client(port: number, framing: 'tcp' | 'rtu_over_tcp' = 'tcp', unit = 1): Promise<ModbusClient> {
  const c = new ModbusSerial.default();
  if (framing === 'tcp') await c.connectTCP('127.0.0.1', { port });
  else await c.connectTelnet('127.0.0.1', { port });
  c.setID(unit);
  c.setTimeout(1000);
  return c;
}

export function closeClient(c: ModbusClient): Promise<void> {
  return new Promise((resolve) => {
    if (!c.isOpen) return resolve();
    c.close(() => resolve());
  });
}

export function float32(words: number[], wordOrder: 'big' | 'little' = 'big'): number {
  const b = Buffer.alloc(4);
  const [hi, lo] = wordOrder === 'big' ? words : [words[1], words[0]];
  b.writeUInt16BE(hi, 0);
  b.writeUInt16BE(lo, 2);
  return b.readFloatBE(0);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
