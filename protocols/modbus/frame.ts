// Modbus frames (pure): read-only request PDUs, response checks, RTU CRC and RTU frame length.
//
// Only reading function codes are built here: 01-04 (reads), 08 with counter sub-functions
// 0x0B-0x12, and 43/14 (device identification). There is deliberately no builder for anything
// that changes a device; allowlist.ts checks again what the links write.
import { dataBytes } from './decode.js';
import { ModbusError, exceptionError } from './errors.js';

/** FC08 sub-functions that only return a counter (Modbus spec 6.8). Nothing else is ever sent. */
export const DIAGNOSTIC_COUNTERS = {
  bus_message_count: 0x0b,
  bus_comm_error_count: 0x0c,
  bus_exception_error_count: 0x0d,
  server_message_count: 0x0e,
  server_no_response_count: 0x0f,
  server_nak_count: 0x10,
  server_busy_count: 0x11,
  bus_char_overrun_count: 0x12,
} as const;

export type DiagnosticCounter = keyof typeof DIAGNOSTIC_COUNTERS;

export function isCounterSubFunction(sub: number): boolean {
  return Number.isInteger(sub) && sub >= 0x0b && sub <= 0x12;
}

/** FC08 request PDU for one counter. Refuses every sub-function that is not a counter read. */
export function diagnosticsPdu(sub: number): Buffer {
  if (!isCounterSubFunction(sub)) throw new RangeError(`FC08 sub-function 0x${sub.toString(16)} is not a counter read; only 0x0B..0x12 are allowed`);
  const pdu = Buffer.alloc(5);
  pdu[0] = 8;
  pdu.writeUInt16BE(sub, 1);
  return pdu; // data field 0x0000
}

/** FC43 / MEI 14 request PDU: read device id code (1 basic, 2 regular, 3 extended), first object id. */
export function deviceIdPdu(readDeviceIdCode: number, objectId: number): Buffer {
  return Buffer.from([43, 0x0e, readDeviceIdCode & 0xff, objectId & 0xff]);
}

/** Short description of a request for errors and logs, e.g. "FC03 0..99". */
export function describePdu(pdu: Buffer): string {
  const fc = pdu[0];
  const name = `FC${fc.toString().padStart(2, '0')}`;
  if (fc >= 1 && fc <= 4 && pdu.length >= 5) {
    const a = pdu.readUInt16BE(1);
    return `${name} ${a}..${a + pdu.readUInt16BE(3) - 1}`;
  }
  if (fc === 8 && pdu.length >= 3) return `${name} sub-function 0x${pdu.readUInt16BE(1).toString(16).padStart(2, '0')}`;
  if (fc === 43 && pdu.length >= 4) return `${name}/14 code ${pdu[2]} object ${pdu[3]}`;
  return name;
}

/**
 * Check a response PDU (function code first) against its request. Throws ModbusError
 * (modbus_exception or bad_response); returns nothing when the answer fits.
 */
export function checkResponse(req: Buffer, res: Uint8Array): void {
  const fc = req[0];
  if (res.length < 2) throw bad(req, `answer of ${res.length} byte(s) is too short`);
  if (res[0] === (fc | 0x80)) {
    if (res.length !== 2) throw bad(req, `exception answer of ${res.length} bytes, expected 2`);
    throw exceptionError(fc, res[1]);
  }
  if (res[0] !== fc) throw bad(req, `answer has function code ${res[0]}`);
  if (fc >= 1 && fc <= 4) {
    const want = dataBytes(fc, (req[3] << 8) | req[4]);
    if (res[1] !== want || res.length !== 2 + want) throw bad(req, `answer has ${res[1]} data bytes in ${res.length - 2}, expected ${want}`);
    return;
  }
  if (fc === 8) {
    if (res.length !== 5 || res[1] !== req[1] || res[2] !== req[2]) throw bad(req, 'answer does not echo the sub-function');
    return;
  }
  if (fc === 43) {
    // MEI type and read device id code echo the request; the object list fills the answer exactly.
    if (res.length < 7 || res[1] !== 0x0e || res[2] !== req[2]) throw bad(req, 'not an answer to this device identification request');
    let p = 7;
    for (let i = 0; i < res[6] && p <= res.length; i++) p = p + 2 > res.length ? res.length + 1 : p + 2 + res[p + 1];
    if (p !== res.length) throw bad(req, `its ${res[6]} identification objects do not fill the ${res.length} bytes of the answer`);
  }
}

function bad(req: Buffer, what: string): ModbusError {
  return new ModbusError('bad_response', `bad answer to ${describePdu(req)}: ${what}`);
}

// CRC-16/MODBUS, table driven.
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ buf[i]) & 0xff];
  return crc;
}

/** RTU ADU: unit, PDU, CRC (low byte first). */
export function rtuFrame(unit: number, pdu: Buffer): Buffer {
  const out = Buffer.allocUnsafe(pdu.length + 3);
  out[0] = unit;
  pdu.copy(out, 1);
  out.writeUInt16LE(crc16(out, 0, pdu.length + 1), pdu.length + 1);
  return out;
}

/**
 * Length of the RTU answer to `req` that starts at buf[off], from the bytes that have arrived:
 * > 0 the whole frame length (CRC included), 0 need more bytes, -1 these bytes cannot be an
 * answer to `req` (garbage).
 */
export function rtuAnswerLength(req: Buffer, unit: number, buf: Uint8Array, off: number): number {
  const avail = buf.length - off;
  if (avail < 2) return avail === 1 && buf[off] !== unit ? -1 : 0;
  if (buf[off] !== unit) return -1;
  const fc = buf[off + 1];
  if (fc === (req[0] | 0x80)) return 5;
  if (fc !== req[0]) return -1;
  if (fc >= 1 && fc <= 4) {
    if (avail < 3) return 0;
    const want = dataBytes(fc, (req[3] << 8) | req[4]);
    return buf[off + 2] === want ? 5 + want : -1;
  }
  if (fc === 8) return 8;
  if (fc === 43) {
    // unit fc mei code conformity more next count, then per object: id len data
    if (avail < 8) return 0;
    let p = off + 8;
    for (let i = 0; i < buf[off + 7]; i++) {
      if (buf.length < p + 2) return 0;
      p += 2 + buf[p + 1];
      if (p - off > 253) return -1;
    }
    return p - off + 2;
  }
  return -1;
}

/** Verify the CRC of an RTU frame buf[off, off+len). */
export function rtuCrcOk(buf: Uint8Array, off: number, len: number): boolean {
  return crc16(buf, off, off + len - 2) === (buf[off + len - 2] | (buf[off + len - 1] << 8));
}
