// The native Modbus link over any byte stream: MBAP framing (Modbus TCP) or RTU framing (RTU over
// TCP, RTU over a serial port). tcp-link.ts and rtu-serial.ts only open the stream.
//
// Lean on purpose: one request in flight, no per-request objects beyond the request frame and
// the promise, and the response is checked and handed out as a view of the receive buffer.
// Modbus TCP transaction ids use the full 16 bits; a late answer to a request that already timed
// out carries an old id and is dropped. RTU frames have no id, so a late answer arriving while
// the next request waits would be taken for its answer, and every later answer would be off by
// one. So after an RTU timeout the next request waits until the line is quiet: until the late
// answer has come and gone (plus RTU_SETTLE_MS), or at most one more timeout. If the late answer
// has still not come, the first answer to the next request is held for up to one timeout: a
// second answer in that time is the real one (the first was the late answer). Bytes that arrive
// while nothing is asked are dropped; a serial port's input buffer is flushed before each request;
// an answer is taken only if unit, function code, length and byte count fit the request.
//
// Every frame passes the read-only allow-list (allowlist.ts) immediately before it is written.
// The stream and everything that can write are JS private fields: unreachable from outside.
// The receive buffer never holds more than one frame (at most 260 bytes): a longer run of bytes
// that is not an answer fails the request (RTU resyncs, a Modbus TCP connection is dropped).
import type { Duplex } from 'node:stream';
import { checkRequest, sendChecked } from './allowlist.js';
import { ModbusError, asModbusError } from './errors.js';
import { checkResponse, crc16, describePdu, rtuAnswerLength, rtuCrcOk } from './frame.js';
import type { LinkOptions, ModbusLink } from './link.js';

export type Framing = 'mbap' | 'rtu';

/** RTU: quiet time after stray bytes before the next request is sent. */
export const RTU_SETTLE_MS = 50;
/** Largest Modbus frame: MBAP header 7 + PDU 253 (an RTU frame is at most 256). */
export const MAX_FRAME_BYTES = 260;

/** A connected byte stream (a TCP socket, a serial port) and what it can do besides bytes. */
export interface OpenStream {
  stream: Duplex;
  /**
   * The stream hands what it receives to the `receive` given to openStream itself, not as 'data'
   * events (a TCP socket reading into one buffer of its own: no allocation and no stream
   * machinery per answer). The chunk is a view of that buffer, valid until the next read.
   */
  delivers?: boolean;
  /** discard bytes received but not yet read (a serial port's input buffer) */
  flushInput?: () => Promise<void>;
  /** close the stream, emitting 'close' when done (default: stream.destroy()) */
  drop?: () => void;
}

export interface StreamLinkOptions extends LinkOptions {
  framing: Framing;
  describe: string;
  /**
   * Open the stream; rejects with ModbusError (connect_refused, timeout, aborted). A stream that
   * delivers (OpenStream.delivers) calls receive with each chunk and itself.
   */
  openStream: (signal: AbortSignal | undefined, receive: (chunk: Buffer, from: Duplex) => void) => Promise<OpenStream>;
  /** Modbus TCP: the transaction id before the first request's (tests start near the wrap) */
  lastTransactionId?: number;
}

export class StreamLink implements ModbusLink {
  readonly describe: string;
  onLost?: (err: Error) => void;

  readonly #opts: StreamLinkOptions;
  #stream: Duplex | null = null;
  #flushInput: (() => Promise<void>) | undefined;
  #drop: (() => void) | undefined;
  #opening: Promise<void> | null = null;
  #closing = false;
  #rx: Buffer | null = null;
  #tid = 0;
  // The one pending request (fields rather than an object: no allocation per request).
  #req: Buffer | null = null;
  #reqTid = -1;
  #resolve: ((pdu: Buffer) => void) | null = null;
  #reject: ((e: Error) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  // RTU only: the request frame waiting for a quiet line, and when the line is quiet.
  #reqSent = false;
  #waitingAdu: Buffer | null = null;
  #quietUntil = 0;
  // RTU only: a timed-out request's answer has not been seen yet, and an answer held back meanwhile.
  #lateExpected = false;
  #held: Buffer | null = null;
  readonly #releaseHeld = (): void => {
    this.#timer = null;
    const pdu = this.#held;
    const req = this.#req;
    this.#held = null;
    this.#lateExpected = false;
    if (pdu && req) this.#deliver(req, pdu);
  };
  // Timers run before I/O in each turn of the event loop, so after a busy turn (many devices
  // answering in one slot) a timeout can fire while its answer already waits in the socket: the
  // timeout is decided after that turn's I/O, so it measures the device, not the agent's own lag.
  #recheck: NodeJS.Immediate | null = null;
  readonly #onTimeout = (): void => {
    this.#timer = null;
    this.#recheck = setImmediate(this.#timedOut);
  };
  readonly #timedOut = (): void => {
    this.#recheck = null;
    const req = this.#req;
    if (this.#opts.framing === 'rtu') {
      this.#quietUntil = performance.now() + this.#opts.timeoutMs;
      this.#lateExpected = true;
    }
    this.#fail(new ModbusError('timeout', `no answer to ${req ? describePdu(req) : 'request'} within ${this.#opts.timeoutMs} ms`));
  };
  readonly #sendWaiting = (): void => {
    this.#timer = null;
    const adu = this.#waitingAdu;
    if (!adu || !this.#stream) return;
    if (!this.#flushInput) return this.#send(adu);
    const req = this.#req;
    this.#flushInput().then(
      () => {
        if (this.#req === req && this.#waitingAdu === adu) this.#send(adu);
      },
      (e: unknown) => this.#lost(this.#stream, e),
    );
  };
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);
  /** chunks of a delivering stream: only the attached stream's count (an old socket may still read) */
  readonly #delivered = (chunk: Buffer, from: Duplex): void => {
    if (from === this.#stream) this.#receive(chunk);
  };

  constructor(opts: StreamLinkOptions) {
    this.#opts = opts;
    this.#tid = opts.lastTransactionId ?? 0;
    this.describe = opts.describe;
  }

  isOpen(): boolean {
    return this.#stream !== null;
  }

  open(signal?: AbortSignal): Promise<void> {
    if (this.#stream) return Promise.resolve();
    if (this.#opening) return this.#opening;
    this.#closing = false;
    this.#opening = this.#opts
      .openStream(signal, this.#delivered)
      .then((s) => this.#attach(s))
      .finally(() => {
        this.#opening = null;
      });
    return this.#opening;
  }

  exchange(pdu: Buffer): Promise<Buffer> {
    try {
      checkRequest(pdu, this.describe);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.#stream) return Promise.reject(new ModbusError('not_connected', `${this.describe} is not connected`));
    if (this.#resolve) return Promise.reject(new ModbusError('unknown', `${this.describe}: a request is already in flight`));
    const { framing, unitId } = this.#opts;
    let adu: Buffer;
    if (framing === 'mbap') {
      this.#tid = (this.#tid + 1) & 0xffff;
      this.#reqTid = this.#tid;
      adu = Buffer.allocUnsafe(7 + pdu.length);
      adu.writeUInt16BE(this.#tid, 0);
      adu.writeUInt16BE(0, 2);
      adu.writeUInt16BE(pdu.length + 1, 4);
      adu[6] = unitId;
      pdu.copy(adu, 7);
    } else {
      adu = Buffer.allocUnsafe(pdu.length + 3);
      adu[0] = unitId;
      pdu.copy(adu, 1);
      adu.writeUInt16LE(crc16(adu, 0, pdu.length + 1), pdu.length + 1);
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.#req = pdu;
      this.#resolve = resolve;
      this.#reject = reject;
      const wait = framing === 'rtu' ? this.#quietUntil - performance.now() : 0;
      this.#waitingAdu = adu;
      if (wait > 0) this.#timer = setTimeout(this.#sendWaiting, Math.ceil(wait));
      else this.#sendWaiting();
    });
  }

  /** Put the request frame on the wire, checked against the allow-list first. */
  #send(adu: Buffer): void {
    const s = this.#stream!;
    this.#waitingAdu = null;
    this.#rx = null; // whatever arrived unasked is not an answer to this request
    try {
      sendChecked(s, adu, this.#opts.framing, this.describe);
    } catch (e) {
      this.#fail(asModbusError(e));
      return;
    }
    this.#reqSent = true;
    this.#timer = setTimeout(this.#onTimeout, this.#opts.timeoutMs);
  }

  abort(): void {
    this.#fail(new ModbusError('aborted', `${this.describe}: request aborted`));
  }

  close(): Promise<void> {
    this.#closing = true;
    const s = this.#stream;
    this.#fail(new ModbusError('connection_lost', `${this.describe} was closed by the agent`));
    if (!s) return this.#opening ? this.#opening.then(() => this.close(), () => undefined) : Promise.resolve();
    const drop = this.#drop;
    this.#detach();
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (drop) drop();
      else s.destroy();
    });
  }

  #attach(o: OpenStream): void {
    const s = o.stream;
    this.#stream = s;
    this.#flushInput = o.flushInput;
    this.#drop = o.drop;
    this.#rx = null;
    if (!o.delivers) s.on('data', this.#onData);
    s.on('error', (e: Error) => this.#lost(s, e));
    s.on('close', () => this.#lost(s, null));
  }

  #detach(): void {
    const s = this.#stream;
    this.#stream = null;
    this.#rx = null;
    if (s) s.removeListener('data', this.#onData);
  }

  #lost(s: Duplex | null, e: unknown): void {
    if (!s || s !== this.#stream) return;
    this.#dropStream();
    const why = e ? asModbusError(e).message : 'the device closed the connection';
    const err = new ModbusError('connection_lost', `${this.describe}: ${why}`);
    this.#fail(err);
    if (!this.#closing) this.onLost?.(err);
  }

  #fail(err: ModbusError): void {
    const reject = this.#reject;
    if (!reject) return;
    if (this.#req) err.request = describePdu(this.#req);
    this.#settle();
    reject(err);
  }

  #settle(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#recheck) clearImmediate(this.#recheck);
    this.#recheck = null;
    this.#reqSent = false;
    this.#waitingAdu = null;
    this.#held = null;
    this.#req = null;
    this.#resolve = null;
    this.#reject = null;
  }

  /**
   * The device sent bytes that cannot be a Modbus answer: fail the request. A Modbus TCP stream
   * cannot be resynchronised after a bad header, so that connection is dropped (the next poll
   * reconnects); RTU framing resyncs by itself because stale bytes are discarded before each send.
   */
  #garbage(what: string): void {
    const err = new ModbusError('bad_response', `${this.describe}: ${what}`);
    this.#fail(err);
    const s = this.#stream;
    if (this.#opts.framing === 'rtu') {
      this.#rx = null;
      this.#quietUntil = performance.now() + RTU_SETTLE_MS; // the rest of a garbled frame may follow
      return;
    }
    if (s) {
      this.#dropStream();
      if (!this.#closing) this.onLost?.(err);
    }
  }

  /** Detach from the stream and close it. */
  #dropStream(): void {
    const s = this.#stream;
    const drop = this.#drop;
    this.#detach();
    if (drop) drop();
    else s?.destroy();
  }

  #receive(chunk: Buffer): void {
    let buf = chunk;
    if (this.#rx) {
      buf = Buffer.concat([this.#rx, chunk]);
      this.#rx = null;
    }
    let off = 0;
    while (off < buf.length && this.#stream) {
      const n = this.#opts.framing === 'mbap' ? this.#takeMbap(buf, off) : this.#takeRtu(buf, off);
      if (n === 0) {
        // Both parsers need at most one frame; more waiting bytes is a parser bug, never kept.
        if (buf.length - off > MAX_FRAME_BYTES) return this.#garbage(`${buf.length - off} bytes that are not one Modbus frame`);
        this.#rx = Buffer.from(buf.subarray(off)); // copy: a few bytes, keeps the chunk collectable
        return;
      }
      if (n < 0) return;
      off += n;
    }
  }

  /** One MBAP frame at buf[off]: bytes used, 0 = incomplete, -1 = garbage (link dropped). */
  #takeMbap(buf: Buffer, off: number): number {
    const avail = buf.length - off;
    if (avail < 7) return 0;
    const len = buf.readUInt16BE(off + 4);
    if (buf.readUInt16BE(off + 2) !== 0 || len < 2 || len > 254) {
      this.#garbage(`answer is not a Modbus TCP frame (protocol id ${buf.readUInt16BE(off + 2)}, length ${len})`);
      return -1;
    }
    if (avail < 6 + len) return 0;
    const tid = buf.readUInt16BE(off);
    const req = this.#req;
    if (!req || !this.#reqSent || tid !== this.#reqTid) return 6 + len; // late or duplicated
    if (buf[off + 6] !== this.#opts.unitId) {
      this.#fail(new ModbusError('bad_response', `${this.describe}: answer from unit ${buf[off + 6]}, expected unit ${this.#opts.unitId}`));
      return 6 + len;
    }
    this.#deliver(req, buf.subarray(off + 7, off + 6 + len));
    return 6 + len;
  }

  /** One RTU frame at buf[off]: bytes used, 0 = incomplete, -1 = garbage (request failed). */
  #takeRtu(buf: Buffer, off: number): number {
    const req = this.#req;
    if (!req || !this.#reqSent) {
      // Nothing asked yet: a late answer. Drop it, and send the waiting request once it is quiet.
      this.#lateExpected = false;
      this.#quietUntil = performance.now() + RTU_SETTLE_MS;
      if (this.#waitingAdu && this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(this.#sendWaiting, RTU_SETTLE_MS);
      }
      return buf.length - off;
    }
    const len = rtuAnswerLength(req, this.#opts.unitId, buf, off);
    if (len === 0 || (len > 0 && buf.length - off < len)) return 0;
    if (len < 0) {
      this.#garbage(`bytes that are not an RTU answer to ${describePdu(req)}`);
      return -1;
    }
    if (!rtuCrcOk(buf, off, len)) {
      this.#garbage(`RTU answer to ${describePdu(req)} has a bad CRC`);
      return -1;
    }
    const pdu = buf.subarray(off + 1, off + len - 2);
    if (this.#lateExpected && !this.#held) {
      // The late answer to a timed-out request has not come yet: this may be it. Hold this one
      // for up to one timeout; an answer arriving meanwhile is the one to this request.
      this.#held = Buffer.from(pdu);
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = setTimeout(this.#releaseHeld, this.#opts.timeoutMs);
      return len;
    }
    this.#lateExpected = false;
    this.#deliver(req, pdu);
    return len;
  }

  #deliver(req: Buffer, pdu: Buffer): void {
    const resolve = this.#resolve!;
    const reject = this.#reject!;
    this.#settle();
    try {
      checkResponse(req, pdu);
    } catch (e) {
      const err = asModbusError(e);
      err.request = describePdu(req);
      reject(err);
      return;
    }
    resolve(pdu);
  }
}
