// Request framing on a TCP stream: Modbus TCP (MBAP header) and RTU over TCP (RTU frames with CRC16).
// Deframers accept any chunking (partial frames, several frames per chunk) and resynchronise after garbage.
import { crc16, crcMatches } from './crc.js';

export type Framing = 'tcp' | 'rtu_over_tcp';
export const FRAMINGS = ['tcp', 'rtu_over_tcp'] as const;

/** crc: bad CRC or unparsable bytes; header: bad MBAP header; overrun: frame longer than Modbus allows */
export type FrameErrorKind = 'crc' | 'header' | 'overrun';

export interface FrameSink {
  /** tid is the MBAP transaction id (0 for RTU) */
  frame(unitId: number, pdu: Buffer, tid: number): void;
  error(kind: FrameErrorKind): void;
}

export interface Deframer {
  push(chunk: Buffer): void;
  /** bytes held while waiting for the rest of a frame */
  pending(): number;
  /** The line went silent: drop a partial frame (RTU counts it as a framing error). */
  flush(): void;
}

const MAX_RTU_ADU = 256;
const MAX_MBAP_LENGTH = 254; // unit id + 253-byte PDU

export function createDeframer(framing: Framing, sink: FrameSink): Deframer {
  return framing === 'tcp' ? new MbapDeframer(sink) : new RtuDeframer(sink);
}

/** Wrap a response PDU into an ADU. */
export function encodeAdu(framing: Framing, unitId: number, tid: number, pdu: Buffer): Buffer {
  if (framing === 'tcp') {
    const out = Buffer.allocUnsafe(7 + pdu.length);
    out.writeUInt16BE(tid, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(pdu.length + 1, 4);
    out[6] = unitId;
    pdu.copy(out, 7);
    return out;
  }
  const out = Buffer.allocUnsafe(pdu.length + 3);
  out[0] = unitId;
  pdu.copy(out, 1);
  const crc = crc16(out, 0, pdu.length + 1);
  out[pdu.length + 1] = crc & 0xff;
  out[pdu.length + 2] = crc >>> 8;
  return out;
}

abstract class BaseDeframer implements Deframer {
  protected rest: Buffer | null = null;
  constructor(protected readonly sink: FrameSink) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const used = this.parse(buf);
    // Copy the tail so a big chunk is not kept alive by a few leftover bytes.
    this.rest = used < buf.length ? Buffer.from(buf.subarray(used)) : null;
  }

  pending(): number {
    return this.rest ? this.rest.length : 0;
  }

  flush(): void {
    this.rest = null;
  }

  /** Emit every complete frame in buf; return how many bytes were consumed. */
  protected abstract parse(buf: Buffer): number;
}

class MbapDeframer extends BaseDeframer {
  protected parse(buf: Buffer): number {
    let off = 0;
    while (buf.length - off >= 7) {
      const protocol = buf.readUInt16BE(off + 2);
      const len = buf.readUInt16BE(off + 4);
      if (protocol !== 0 || len < 2 || len > MAX_MBAP_LENGTH) {
        // A TCP stream cannot be resynchronised after a bad header: drop what we have.
        this.sink.error(len > MAX_MBAP_LENGTH && protocol === 0 ? 'overrun' : 'header');
        return buf.length;
      }
      if (buf.length - off < 6 + len) break;
      this.sink.frame(buf[off + 6], buf.subarray(off + 7, off + 6 + len), buf.readUInt16BE(off));
      off += 6 + len;
    }
    return off;
  }
}

/** Exact request length for function codes whose request size is fixed or self-described; 0 = unknown. */
function rtuRequestLength(buf: Buffer, off: number, avail: number): number {
  switch (buf[off + 1]) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
      return 8;
    case 15:
    case 16:
      return avail < 7 ? -1 : 9 + buf[off + 6];
    default:
      return 0;
  }
}

class RtuDeframer extends BaseDeframer {
  /** inside a run of garbage: one framing error is counted per run, not per byte */
  private inGarbage = false;

  override flush(): void {
    if (this.rest && !this.inGarbage) this.sink.error('crc');
    this.inGarbage = false;
    super.flush();
  }

  protected parse(buf: Buffer): number {
    let off = 0;
    while (buf.length - off >= 4) {
      const avail = buf.length - off;
      const len = rtuRequestLength(buf, off, avail);
      if (len < 0) break;
      if (len > MAX_RTU_ADU) {
        // A byte count no request can have: garbage if a valid frame follows, else an overrun.
        const next = this.nextValidFrame(buf, off + 1);
        if (next > 0) {
          this.garbage();
          off = next;
          continue;
        }
        this.sink.error('overrun');
        this.inGarbage = false;
        return buf.length;
      }
      if (len > 0) {
        if (avail < len) break;
        if (crcMatches(buf, off, off + len)) {
          this.emit(buf, off, len);
          off += len;
          continue;
        }
      } else {
        // Variable-length request (FC08, FC43, unknown codes): the first length whose CRC matches.
        const found = this.scan(buf, off, avail);
        if (found > 0) {
          this.emit(buf, off, found);
          off += found;
          continue;
        }
        // No CRC fits: garbage if a valid frame starts further on, else maybe still arriving
        // (the silence timer ends it).
        const next = this.nextValidFrame(buf, off + 1);
        if (next < 0 && avail < MAX_RTU_ADU) break;
        if (next > 0) {
          this.garbage();
          off = next;
          continue;
        }
      }
      this.garbage();
      off += 1;
    }
    return off;
  }

  private scan(buf: Buffer, off: number, avail: number): number {
    // The usual sizes first (FC08 with one data word, FC43/14), so a chance CRC match of a shorter
    // prefix cannot cut them.
    const usual = buf[off + 1] === 0x08 ? 8 : buf[off + 1] === 0x2b ? 7 : 0;
    if (usual && avail >= usual && crcMatches(buf, off, off + usual)) return usual;
    const max = Math.min(avail, MAX_RTU_ADU);
    for (let len = 4; len <= max; len++) if (crcMatches(buf, off, off + len)) return len;
    return 0;
  }

  /** Offset of the next fixed-length request with a valid CRC, or -1. */
  private nextValidFrame(buf: Buffer, from: number): number {
    for (let k = from; buf.length - k >= 8; k++) {
      const len = rtuRequestLength(buf, k, buf.length - k);
      if (len > 0 && len <= buf.length - k && crcMatches(buf, k, k + len)) return k;
    }
    return -1;
  }

  private emit(buf: Buffer, off: number, len: number): void {
    this.inGarbage = false;
    this.sink.frame(buf[off], buf.subarray(off + 1, off + len - 2), 0);
  }

  private garbage(): void {
    if (!this.inGarbage) this.sink.error('crc');
    this.inGarbage = true;
  }
}
