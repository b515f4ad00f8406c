// Native Modbus link over a TCP socket: MBAP framing (Modbus TCP) or RTU framing (RTU over TCP).
//
// Lean on purpose: one request in flight, no per-request objects beyond the request frame and
// the promise, and the response is checked and handed out as a view of the receive buffer.
// Modbus TCP transaction ids use the full 16 bits; a late answer to a request that already timed
// out carries an old id and is dropped. RTU frames have no id, so a late answer arriving while
// the next request waits would be taken for its answer, and every later answer would be off by
// one. So after an RTU timeout the next request waits until the line is quiet: until the late
// answer has come and gone (plus RTU_SETTLE_MS), or at most one more timeout. Bytes that arrive
// while nothing is asked are dropped.
import net from 'node:net';
import { watchAbort } from './abort.js';
import { ModbusError, asModbusError } from './errors.js';
import { checkResponse, crc16, describePdu, rtuAnswerLength, rtuCrcOk } from './frame.js';
import type { LinkOptions, ModbusLink } from './link.js';

export type TcpFraming = 'mbap' | 'rtu';

/** RTU: quiet time after stray bytes before the next request is sent. */
export const RTU_SETTLE_MS = 50;

export interface TcpLinkOptions extends LinkOptions {
  host: string;
  port: number;
  framing: TcpFraming;
}

export class TcpLink implements ModbusLink {
  readonly describe: string;
  onLost?: (err: Error) => void;
  /** answers that arrived for no pending request (late or duplicated) */
  staleAnswers = 0;

  private readonly opts: TcpLinkOptions;
  private socket: net.Socket | null = null;
  private connected = false;
  private opening: Promise<void> | null = null;
  private closing = false;
  private rx: Buffer | null = null;
  private tid = 0;
  // The one pending request (fields rather than an object: no allocation per request).
  private req: Buffer | null = null;
  private reqTid = -1;
  private resolveFn: ((pdu: Buffer) => void) | null = null;
  private rejectFn: ((e: Error) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  // RTU only: the request frame waiting for a quiet line, and when the line is quiet.
  private reqSent = false;
  private waitingAdu: Buffer | null = null;
  private quietUntil = 0;
  private readonly onTimeout = (): void => {
    this.timer = null;
    const req = this.req;
    if (this.opts.framing === 'rtu') this.quietUntil = performance.now() + this.opts.timeoutMs;
    this.fail(new ModbusError('timeout', `no answer to ${req ? describePdu(req) : 'request'} within ${this.opts.timeoutMs} ms`));
  };
  private readonly sendWaiting = (): void => {
    const s = this.socket;
    const adu = this.waitingAdu;
    this.waitingAdu = null;
    this.timer = null;
    if (s && adu) this.send(s, adu);
  };
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(opts: TcpLinkOptions) {
    this.opts = opts;
    this.describe = `${opts.framing === 'mbap' ? 'tcp' : 'rtu_over_tcp'} ${opts.host}:${opts.port}`;
  }

  isOpen(): boolean {
    return this.connected;
  }

  open(signal?: AbortSignal): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.opening) return this.opening;
    this.closing = false;
    this.opening = new Promise<void>((resolve, reject) => {
      const { host, port, timeoutMs } = this.opts;
      if (signal?.aborted) return reject(new ModbusError('aborted', `connecting to ${host}:${port} was aborted`));
      const s = net.connect({ host, port });
      let settled = false;
      const finish = (err?: ModbusError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch();
        s.removeListener('error', onError);
        if (err) {
          s.on('error', () => undefined); // a late error of the abandoned socket must not crash
          s.destroy();
          reject(err);
          return;
        }
        this.attach(s);
        resolve();
      };
      const onError = (e: Error): void => {
        const err = asModbusError(e);
        const code = err.code === 'unknown' || err.code === 'connection_lost' ? 'connect_refused' : err.code;
        finish(new ModbusError(code, `cannot connect to ${host}:${port}: ${err.message}`));
      };
      const timer = setTimeout(() => finish(new ModbusError('timeout', `no TCP connection to ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
      const unwatch = watchAbort(signal, () => finish(new ModbusError('aborted', `connecting to ${host}:${port} was aborted`)));
      s.once('error', onError);
      s.once('connect', () => finish());
    }).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  exchange(pdu: Buffer): Promise<Buffer> {
    const s = this.socket;
    if (!s || !this.connected) return Promise.reject(new ModbusError('not_connected', `${this.describe} is not connected`));
    if (this.resolveFn) return Promise.reject(new ModbusError('unknown', `${this.describe}: a request is already in flight`));
    let adu: Buffer;
    if (this.opts.framing === 'mbap') {
      this.tid = (this.tid + 1) & 0xffff;
      this.reqTid = this.tid;
      adu = Buffer.allocUnsafe(7 + pdu.length);
      adu.writeUInt16BE(this.tid, 0);
      adu.writeUInt16BE(0, 2);
      adu.writeUInt16BE(pdu.length + 1, 4);
      adu[6] = this.opts.unitId;
      pdu.copy(adu, 7);
    } else {
      adu = Buffer.allocUnsafe(pdu.length + 3);
      adu[0] = this.opts.unitId;
      pdu.copy(adu, 1);
      adu.writeUInt16LE(crc16(adu, 0, pdu.length + 1), pdu.length + 1);
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.req = pdu;
      this.resolveFn = resolve;
      this.rejectFn = reject;
      const wait = this.opts.framing === 'rtu' ? this.quietUntil - performance.now() : 0;
      if (wait > 0) {
        this.waitingAdu = adu;
        this.timer = setTimeout(this.sendWaiting, Math.ceil(wait));
      } else {
        this.send(s, adu);
      }
    });
  }

  /** Put one read request on the wire (the ADU of a read, FC43 or FC08 counter PDU). */
  private send(socket: net.Socket, adu: Buffer): void {
    this.rx = null; // whatever arrived unasked is not an answer to this request
    this.reqSent = true;
    this.timer = setTimeout(this.onTimeout, this.opts.timeoutMs);
    socket.write(adu);
  }

  abort(): void {
    this.fail(new ModbusError('aborted', `${this.describe}: request aborted`));
  }

  close(): Promise<void> {
    this.closing = true;
    const s = this.socket;
    this.fail(new ModbusError('connection_lost', `${this.describe} was closed by the agent`));
    if (!s) return this.opening ? this.opening.then(() => this.close(), () => undefined) : Promise.resolve();
    this.detach();
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.destroy();
    });
  }

  private attach(s: net.Socket): void {
    this.socket = s;
    this.connected = true;
    this.rx = null;
    s.setNoDelay(true);
    s.setKeepAlive(true, 10_000);
    s.on('data', this.onData);
    s.on('error', (e) => this.lost(s, e));
    s.on('close', () => this.lost(s, null));
  }

  private detach(): void {
    const s = this.socket;
    this.socket = null;
    this.connected = false;
    this.rx = null;
    if (s) s.removeListener('data', this.onData);
  }

  private lost(s: net.Socket, e: Error | null): void {
    if (s !== this.socket) return;
    this.detach();
    s.destroy();
    const why = e ? asModbusError(e).message : 'the device closed the connection';
    const err = new ModbusError('connection_lost', `${this.describe}: ${why}`);
    this.fail(err);
    if (!this.closing) this.onLost?.(err);
  }

  private fail(err: ModbusError): void {
    const reject = this.rejectFn;
    if (!reject) return;
    if (this.req) err.request = describePdu(this.req);
    this.settle();
    reject(err);
  }

  private settle(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.reqSent = false;
    this.waitingAdu = null;
    this.req = null;
    this.resolveFn = null;
    this.rejectFn = null;
  }

  /**
   * The device sent bytes that cannot be a Modbus answer: fail the request. A Modbus TCP stream
   * cannot be resynchronised after a bad header, so that connection is dropped (the next poll
   * reconnects); RTU framing resyncs by itself because stale bytes are discarded before each send.
   */
  private garbage(what: string): void {
    const err = new ModbusError('bad_response', `${this.describe}: ${what}`);
    this.fail(err);
    const s = this.socket;
    if (this.opts.framing === 'rtu') {
      this.rx = null;
      this.quietUntil = performance.now() + RTU_SETTLE_MS; // the rest of a garbled frame may follow
      return;
    }
    if (s) {
      this.detach();
      s.destroy();
      if (!this.closing) this.onLost?.(err);
    }
  }

  private receive(chunk: Buffer): void {
    let buf = chunk;
    if (this.rx) {
      buf = Buffer.concat([this.rx, chunk]);
      this.rx = null;
    }
    let off = 0;
    while (off < buf.length && this.socket) {
      const n = this.opts.framing === 'mbap' ? this.takeMbap(buf, off) : this.takeRtu(buf, off);
      if (n === 0) {
        this.rx = Buffer.from(buf.subarray(off)); // copy: a few bytes, keeps the chunk collectable
        return;
      }
      if (n < 0) return;
      off += n;
    }
  }

  /** One MBAP frame at buf[off]: bytes used, 0 = incomplete, -1 = garbage (link dropped). */
  private takeMbap(buf: Buffer, off: number): number {
    const avail = buf.length - off;
    if (avail < 7) return 0;
    const len = buf.readUInt16BE(off + 4);
    if (buf.readUInt16BE(off + 2) !== 0 || len < 2 || len > 254) {
      this.garbage(`answer is not a Modbus TCP frame (protocol id ${buf.readUInt16BE(off + 2)}, length ${len})`);
      return -1;
    }
    if (avail < 6 + len) return 0;
    const tid = buf.readUInt16BE(off);
    const req = this.req;
    if (!req || tid !== this.reqTid) {
      this.staleAnswers++;
      return 6 + len;
    }
    if (buf[off + 6] !== this.opts.unitId) {
      this.fail(new ModbusError('bad_response', `${this.describe}: answer from unit ${buf[off + 6]}, expected unit ${this.opts.unitId}`));
      return 6 + len;
    }
    this.deliver(req, buf.subarray(off + 7, off + 6 + len));
    return 6 + len;
  }

  /** One RTU frame at buf[off]: bytes used, 0 = incomplete, -1 = garbage (link dropped). */
  private takeRtu(buf: Buffer, off: number): number {
    const req = this.req;
    if (!req || !this.reqSent) {
      // Nothing asked yet: a late answer. Drop it, and send the waiting request once it is quiet.
      this.staleAnswers++;
      this.quietUntil = performance.now() + RTU_SETTLE_MS;
      if (this.waitingAdu && this.timer) {
        clearTimeout(this.timer);
        this.timer = setTimeout(this.sendWaiting, RTU_SETTLE_MS);
      }
      return buf.length - off;
    }
    const len = rtuAnswerLength(req, this.opts.unitId, buf, off);
    if (len === 0 || (len > 0 && buf.length - off < len)) return 0;
    if (len < 0) {
      this.garbage(`bytes that are not an RTU answer to ${describePdu(req)}`);
      return -1;
    }
    if (!rtuCrcOk(buf, off, len)) {
      this.garbage(`RTU answer to ${describePdu(req)} has a bad CRC`);
      return -1;
    }
    this.deliver(req, buf.subarray(off + 1, off + len - 2));
    return len;
  }

  private deliver(req: Buffer, pdu: Buffer): void {
    const resolve = this.resolveFn!;
    const reject = this.rejectFn!;
    this.settle();
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
