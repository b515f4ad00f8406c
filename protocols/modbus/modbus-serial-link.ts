// Modbus TCP through the modbus-serial library (`client: modbus-serial`): a fallback to the native
// client (stream-link.ts) for odd devices.
//
// Reads (FC01-04) use the library's promise API. The library has no FC08, and its FC43 helper
// hides the raw answer, so those two go through a small raw path: an RTU frame written to the
// library's port object (which turns it into Modbus TCP), and the one framed answer taken from
// that port's "data" event. This relies on modbus-serial internals (_port, the socket as
// _port._client), which is why package.json pins modbus-serial to an exact version.
//
// Read-only where bytes leave: each request PDU is checked against the allow-list before the
// library is called, and the library's port and its socket are wrapped (guardWrites) so every
// frame the library builds is checked again immediately before it is written. The client, its
// port and socket live in JS private fields, out of reach of any caller.
import type { EventEmitter } from 'node:events';
import { checkRequest, guardWrites } from './allowlist.js';
import { watchAbort } from './abort.js';
import { ModbusError, asModbusError, exceptionError } from './errors.js';
import { checkResponse, describePdu, rtuCrcOk, rtuFrame } from './frame.js';
import type { LinkOptions, ModbusLink } from './link.js';

/** The part of a modbus-serial TCP port the link uses. */
interface RawPort extends EventEmitter {
  write(frame: Buffer): void;
  _client?: EventEmitter & { write(data: Uint8Array): boolean; destroy(): void };
}

interface ReadResult {
  buffer: Buffer;
}

type Client = InstanceType<(typeof import('modbus-serial'))['default']> & { _port?: RawPort };

export class ModbusSerialLink implements ModbusLink {
  readonly describe: string;
  onLost?: (err: Error) => void;

  readonly #host: string;
  readonly #port: number;
  readonly #opts: LinkOptions;
  #client: Client | null = null;
  #opening: Promise<void> | null = null;
  #closing = false;
  #busy = false;
  #failPending: ((e: ModbusError) => void) | null = null;
  #pendingRaw = false;

  constructor(host: string, port: number, opts: LinkOptions) {
    this.#host = host;
    this.#port = port;
    this.#opts = opts;
    this.describe = `tcp ${host}:${port} (modbus-serial)`;
  }

  isOpen(): boolean {
    return this.#client !== null && this.#client.isOpen === true;
  }

  open(signal?: AbortSignal): Promise<void> {
    if (this.isOpen()) return Promise.resolve();
    if (this.#opening) return this.#opening;
    this.#closing = false;
    this.#opening = this.#connect(signal).finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  async #connect(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new ModbusError('aborted', `opening ${this.describe} was aborted`);
    // Loaded on first use: only agents configured with the fallback pay for the library.
    const ModbusSerial = (await import('modbus-serial')).default;
    const client = new ModbusSerial.default() as Client;
    client.setTimeout(this.#opts.timeoutMs); // the library's default is to wait forever
    client.setID(this.#opts.unitId);
    // Without a listener an 'error' event would crash the process.
    client.on('error', (e: unknown) => this.#lost(client, e));
    const connecting = client.connectTCP(this.#host, { port: this.#port });
    let timer: NodeJS.Timeout | undefined;
    let unwatch = (): unknown => undefined;
    try {
      await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ModbusError('timeout', `${this.describe} did not open within ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
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
    const port = client._port;
    const socket = port?._client;
    if (!port || !socket) {
      client.close(() => undefined);
      throw new ModbusError('unknown', `${this.describe}: modbus-serial has no port or socket (library version changed?)`);
    }
    // The port takes unit+PDU+CRC and may throw to the library call; the socket write happens in
    // a library promise that must not reject, so a refused frame there fails the request instead.
    const refused = (e: ModbusError): void => this.#failPending?.(e);
    guardWrites(port, 'rtu', this.describe, refused, true);
    guardWrites(socket, 'mbap', this.describe, refused, false);
    watchMbapHeaders(socket, (what) => {
      // A Modbus TCP stream cannot be resynchronised: fail the request, drop the connection.
      const err = new ModbusError('bad_response', `${this.describe}: ${what}`);
      this.#failPending?.(err);
      this.#lost(client, err);
    });
    this.#client = client;
    client.on('close', () => this.#lost(client, null));
    // The TCP port forgets to report a reset socket; listen to the socket itself.
    socket.on('close', () => this.#lost(client, null));
  }

  async exchange(pdu: Buffer): Promise<Buffer> {
    checkRequest(pdu, this.describe);
    const client = this.#client;
    if (!client || !this.isOpen()) throw new ModbusError('not_connected', `${this.describe} is not connected`);
    if (this.#busy) throw new ModbusError('unknown', `${this.describe}: a request is already in flight`);
    this.#busy = true;
    try {
      const fc = pdu[0];
      if (fc >= 1 && fc <= 4) {
        // The library does not fail a pending read when the connection drops; do it here.
        return await new Promise<Buffer>((resolve, reject) => {
          this.#failPending = reject;
          this.#read(client, pdu).then(resolve, reject);
        });
      }
      return await this.#raw(client, pdu);
    } catch (e) {
      const err = this.#classify(e, client, pdu[0]);
      err.request = describePdu(pdu);
      throw err;
    } finally {
      this.#busy = false;
      this.#failPending = null;
    }
  }

  async #read(client: Client, pdu: Buffer): Promise<Buffer> {
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
  #raw(client: Client, pdu: Buffer): Promise<Buffer> {
    const port = client._port;
    if (!port) return Promise.reject(new ModbusError('not_connected', `${this.describe} has no port`));
    const fc = pdu[0];
    const unit = this.#opts.unitId;
    return new Promise<Buffer>((resolve, reject) => {
      const done = (err: ModbusError | null, out?: Buffer): void => {
        clearTimeout(timer);
        port.removeListener('data', onFrame);
        this.#failPending = null;
        this.#pendingRaw = false;
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
      const timer = setTimeout(() => done(new ModbusError('timeout', `no answer to ${describePdu(pdu)} within ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
      this.#failPending = (e) => done(e);
      this.#pendingRaw = true;
      port.on('data', onFrame);
      try {
        port.write(rtuFrame(unit, pdu)); // guarded: checked against the allow-list
      } catch (e) {
        done(asModbusError(e));
      }
    });
  }

  /** Only raw requests are abandoned: the library cannot cancel a read, so that one runs to its timeout. */
  abort(): void {
    if (this.#pendingRaw) this.#failPending?.(new ModbusError('aborted', `${this.describe}: request aborted`));
  }

  #classify(e: unknown, client: Client, fc: number): ModbusError {
    if (e instanceof ModbusError) return e;
    const err = e as { modbusCode?: number; errno?: string; code?: string; message?: string };
    if (typeof err?.modbusCode === 'number') return exceptionError(fc, err.modbusCode);
    if (!client.isOpen || this.#client !== client) return new ModbusError('connection_lost', `${this.describe}: connection lost`);
    if (err?.errno === 'ETIMEDOUT') return new ModbusError('timeout', `${this.describe}: no answer within ${this.#opts.timeoutMs} ms`);
    // The library reads a garbled answer past its end (a RangeError) or complains about it.
    const garbled = err?.code === 'ERR_OUT_OF_RANGE' || err?.code === 'ERR_BUFFER_OUT_OF_BOUNDS' || /CRC|length|Unexpected data/i.test(err?.message ?? '');
    if (garbled) return new ModbusError('bad_response', `${this.describe}: ${err.message}`);
    return asModbusError(e);
  }

  #lost(client: Client, e: unknown): void {
    if (client !== this.#client) return;
    this.#client = null;
    const err = new ModbusError('connection_lost', `${this.describe}: ${e ? asModbusError(e).message : 'connection closed'}`);
    this.#failPending?.(err);
    client.close(() => undefined);
    if (!this.#closing) this.onLost?.(err);
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#opening) await this.#opening.catch(() => undefined);
    const client = this.#client;
    this.#client = null;
    if (!client) return;
    this.#failPending?.(new ModbusError('connection_lost', `${this.describe} was closed by the agent`));
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      client.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/**
 * Follow the MBAP framing of what the socket receives, ahead of the library: the library trusts any
 * protocol id and any length up to 65535 (and would wait for that many bytes), so a header that
 * cannot be a Modbus TCP answer calls onGarbage instead. Keeps at most one 6-byte header.
 */
function watchMbapHeaders(socket: EventEmitter, onGarbage: (what: string) => void): void {
  let header = Buffer.alloc(0);
  let skip = 0;
  socket.prependListener('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - off);
        skip -= n;
        off += n;
        continue;
      }
      const take = chunk.subarray(off, off + 6 - header.length);
      header = Buffer.concat([header, take]);
      off += take.length;
      if (header.length < 6) return;
      const protocol = header.readUInt16BE(2);
      const len = header.readUInt16BE(4);
      header = Buffer.alloc(0);
      if (protocol !== 0 || len < 2 || len > 254) return onGarbage(`answer is not a Modbus TCP frame (protocol id ${protocol}, length ${len})`);
      skip = len;
    }
  });
}
