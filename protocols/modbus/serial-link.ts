// Modbus link on the modbus-serial library: RTU over a serial port (connectRTUBuffered), and Modbus
// TCP (connectTCP) as a fallback to the native client.
//
// Reads (FC01-04) use the library's promise API. The library has no FC08 and would mis-frame it,
// and its FC43 helper hides the raw answer, so those two go through a small read-only raw path:
// an RTU frame written to the library's port object, and the one framed answer taken from that
// port's "data" event. For FC08 the buffered serial port must be told the answer length (8
// bytes), which it does not know. This relies on modbus-serial internals (_port, _length, the
// socket as _port._client), which is why package.json pins modbus-serial to an exact version.
import type { EventEmitter } from 'node:events';
import ModbusSerial from 'modbus-serial';
import { watchAbort } from './abort.js';
import { ModbusError, asModbusError, exceptionError } from './errors.js';
import { checkResponse, describePdu, rtuCrcOk, rtuFrame } from './frame.js';
import type { LinkOptions, ModbusLink } from './link.js';

export type SerialTarget =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu'; path: string; baudRate: number; dataBits: 7 | 8; stopBits: 1 | 2; parity: 'none' | 'even' | 'odd' };

/** The part of a modbus-serial port the raw path uses. */
interface RawPort extends EventEmitter {
  write(frame: Buffer): void;
  _length?: number | string;
  _client?: EventEmitter;
}

interface ReadResult {
  buffer: Buffer;
}

type Client = InstanceType<typeof ModbusSerial.default> & { _port?: RawPort };

export class ModbusSerialLink implements ModbusLink {
  readonly describe: string;
  onLost?: (err: Error) => void;

  private readonly target: SerialTarget;
  private readonly opts: LinkOptions;
  private client: Client | null = null;
  private opening: Promise<void> | null = null;
  private closing = false;
  private busy = false;
  private failPending: ((e: ModbusError) => void) | null = null;
  private pendingRaw = false;

  constructor(target: SerialTarget, opts: LinkOptions) {
    this.target = target;
    this.opts = opts;
    this.describe = target.kind === 'tcp' ? `tcp ${target.host}:${target.port} (modbus-serial)` : `rtu ${target.path}`;
  }

  isOpen(): boolean {
    return this.client !== null && this.client.isOpen === true;
  }

  open(signal?: AbortSignal): Promise<void> {
    if (this.isOpen()) return Promise.resolve();
    if (this.opening) return this.opening;
    this.closing = false;
    this.opening = this.connect(signal).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async connect(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new ModbusError('aborted', `opening ${this.describe} was aborted`);
    const client = new ModbusSerial.default() as Client;
    client.setTimeout(this.opts.timeoutMs); // the library's default is to wait forever
    client.setID(this.opts.unitId);
    // Without a listener an 'error' event would crash the process.
    client.on('error', (e: unknown) => this.lost(client, e));
    const t = this.target;
    const connecting =
      t.kind === 'tcp'
        ? client.connectTCP(t.host, { port: t.port })
        : client.connectRTUBuffered(t.path, { baudRate: t.baudRate, dataBits: t.dataBits, stopBits: t.stopBits, parity: t.parity });
    let timer: NodeJS.Timeout | undefined;
    let unwatch = (): unknown => undefined;
    try {
      await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ModbusError('timeout', `${this.describe} did not open within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
          unwatch = watchAbort(signal, () => reject(new ModbusError('aborted', `opening ${this.describe} was aborted`)));
        }),
      ]);
    } catch (e) {
      connecting.catch(() => undefined);
      client.close(() => undefined);
      const err = asModbusError(e);
      if (err.code === 'timeout' || err.code === 'aborted') throw err;
      throw new ModbusError(err.code === 'unknown' || err.code === 'connection_lost' ? 'connect_refused' : err.code, `cannot open ${this.describe}: ${err.message}`);
    } finally {
      clearTimeout(timer);
      unwatch();
    }
    this.client = client;
    client.on('close', () => this.lost(client, null));
    // The TCP port forgets to report a reset socket; listen to the socket itself.
    client._port?._client?.on('close', () => this.lost(client, null));
  }

  async exchange(pdu: Buffer): Promise<Buffer> {
    const client = this.client;
    if (!client || !this.isOpen()) throw new ModbusError('not_connected', `${this.describe} is not connected`);
    if (this.busy) throw new ModbusError('unknown', `${this.describe}: a request is already in flight`);
    this.busy = true;
    try {
      const fc = pdu[0];
      if (fc >= 1 && fc <= 4) {
        // The library does not fail a pending read when the connection drops; do it here.
        return await new Promise<Buffer>((resolve, reject) => {
          this.failPending = reject;
          this.read(client, pdu).then(resolve, reject);
        });
      }
      return await this.raw(client, pdu);
    } catch (e) {
      const err = this.classify(e, client, pdu[0]);
      err.request = describePdu(pdu);
      throw err;
    } finally {
      this.busy = false;
      this.failPending = null;
    }
  }

  private async read(client: Client, pdu: Buffer): Promise<Buffer> {
    const fc = pdu[0];
    const address = pdu.readUInt16BE(1);
    const quantity = pdu.readUInt16BE(3);
    const res = (await (fc === 1
      ? client.readCoils(address, quantity)
      : fc === 2
        ? client.readDiscreteInputs(address, quantity)
        : fc === 3
          ? client.readHoldingRegisters(address, quantity)
          : client.readInputRegisters(address, quantity))) as ReadResult;
    const out = Buffer.allocUnsafe(2 + res.buffer.length);
    out[0] = fc;
    out[1] = res.buffer.length;
    res.buffer.copy(out, 2);
    checkResponse(pdu, out);
    return out;
  }

  /** Raw path for FC08 counter reads and FC43 (see the file comment). */
  private raw(client: Client, pdu: Buffer): Promise<Buffer> {
    const port = client._port;
    if (!port) return Promise.reject(new ModbusError('not_connected', `${this.describe} has no port`));
    const fc = pdu[0];
    const unit = this.opts.unitId;
    return new Promise<Buffer>((resolve, reject) => {
      const done = (err: ModbusError | null, out?: Buffer): void => {
        clearTimeout(timer);
        port.removeListener('data', onFrame);
        this.failPending = null;
        this.pendingRaw = false;
        if (err) reject(err);
        else resolve(out!);
      };
      const onFrame = (frame: Buffer): void => {
        // Frames arrive as unit, PDU, CRC (the TCP port adds a CRC of its own).
        if (frame.length < 5 || frame[0] !== unit) return;
        if (frame[1] !== fc && frame[1] !== (fc | 0x80)) return; // an answer to something else
        if (!rtuCrcOk(frame, 0, frame.length)) return done(new ModbusError('bad_response', `${this.describe}: answer with a bad CRC`));
        const res = Buffer.from(frame.subarray(1, frame.length - 2));
        try {
          checkResponse(pdu, res);
        } catch (e) {
          return done(asModbusError(e));
        }
        done(null, res);
      };
      const timer = setTimeout(() => done(new ModbusError('timeout', `no answer to ${describePdu(pdu)} within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
      this.failPending = (e) => done(e);
      this.pendingRaw = true;
      port.on('data', onFrame);
      // the serial stream carries only the request frame built from a read PDU
      const stream = port;
      stream.write(rtuFrame(unit, pdu));
      if (fc === 8 && typeof port._length !== 'undefined') port._length = 8;
    });
  }

  /** Only raw requests are abandoned: a library read is left to finish (its late answer could be
   * taken for the next request's on a serial line). */
  abort(): void {
    if (this.pendingRaw) this.failPending?.(new ModbusError('aborted', `${this.describe}: request aborted`));
  }

  private classify(e: unknown, client: Client, fc: number): ModbusError {
    if (e instanceof ModbusError) return e;
    const err = e as { modbusCode?: number; errno?: string; message?: string };
    if (typeof err?.modbusCode === 'number') return exceptionError(fc, err.modbusCode);
    if (!client.isOpen || this.client !== client) return new ModbusError('connection_lost', `${this.describe}: connection lost`);
    if (err?.errno === 'ETIMEDOUT') return new ModbusError('timeout', `${this.describe}: no answer within ${this.opts.timeoutMs} ms`);
    if (typeof err?.message === 'string' && /CRC|length|Unexpected data/i.test(err.message)) return new ModbusError('bad_response', `${this.describe}: ${err.message}`);
    return asModbusError(e);
  }

  private lost(client: Client, e: unknown): void {
    if (client !== this.client) return;
    this.client = null;
    const err = new ModbusError('connection_lost', `${this.describe}: ${e ? asModbusError(e).message : 'connection closed'}`);
    this.failPending?.(err);
    client.close(() => undefined);
    if (!this.closing) this.onLost?.(err);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.opening) await this.opening.catch(() => undefined);
    const client = this.client;
    this.client = null;
    if (!client) return;
    this.failPending?.(new ModbusError('connection_lost', `${this.describe} was closed by the agent`));
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      client.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
