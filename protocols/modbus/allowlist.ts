// The one allow-list of requests the agent may send to a Modbus device, checked where bytes leave.
//
// Allowed: FC01-04 reads (quantity within the Modbus limits, not past address 65535), FC08 with a
// counter sub-function 0x0B-0x12 and data 0x0000, FC43 with MEI type 14 (read device
// identification). Anything else is refused with ModbusError request_refused before a byte is
// written. Every link calls checkRequest() when a request is made and sendChecked() (or
// guardWrites() on a library's objects) on the frame itself, immediately before the write.
import { ModbusError } from './errors.js';
import { crc16 } from './frame.js';

/** Largest quantity per read function code (Modbus spec 6.1-6.4). */
const MAX_QUANTITY: Readonly<Record<number, number>> = { 1: 2000, 2: 2000, 3: 125, 4: 125 };

/** Why this request PDU (function code first) may not be sent, or null when it is an allowed read. */
export function refusalReason(pdu: Uint8Array): string | null {
  if (pdu.length === 0) return 'empty request';
  const fc = pdu[0];
  const max = MAX_QUANTITY[fc];
  if (max !== undefined) {
    if (pdu.length !== 5) return `FC${fc} request of ${pdu.length} bytes, expected 5`;
    const address = (pdu[1] << 8) | pdu[2];
    const quantity = (pdu[3] << 8) | pdu[4];
    if (quantity < 1 || quantity > max) return `FC${fc} quantity ${quantity} is outside 1..${max}`;
    if (address + quantity > 0x10000) return `FC${fc} read of ${quantity} from ${address} runs past address 65535`;
    return null;
  }
  if (fc === 8) {
    if (pdu.length !== 5) return `FC08 request of ${pdu.length} bytes, expected 5`;
    const sub = (pdu[1] << 8) | pdu[2];
    if (sub < 0x0b || sub > 0x12) return `FC08 sub-function 0x${sub.toString(16).padStart(2, '0')} is not a counter read (only 0x0B..0x12)`;
    if (pdu[3] !== 0 || pdu[4] !== 0) return 'FC08 counter read with a data field other than 0x0000';
    return null;
  }
  if (fc === 43) {
    if (pdu.length !== 4) return `FC43 request of ${pdu.length} bytes, expected 4`;
    if (pdu[1] !== 0x0e) return `FC43 MEI type ${pdu[1]} is not 14 (read device identification)`;
    if (pdu[2] < 1 || pdu[2] > 4) return `FC43/14 read device id code ${pdu[2]} is outside 1..4`;
    return null;
  }
  return `function code ${fc} is not a read the agent may send`;
}

/** Throw request_refused unless the request PDU is an allowed read. */
export function checkRequest(pdu: Uint8Array, where: string): void {
  const why = refusalReason(pdu);
  if (why !== null) throw new ModbusError('request_refused', `${where}: refused to send a request outside the read-only allow-list: ${why}`);
}

export type WireFraming = 'mbap' | 'rtu';

/** The request PDU inside one whole frame, or the reason the frame is not one well-formed request. */
function framedPdu(frame: Uint8Array, framing: WireFraming): Uint8Array | string {
  if (framing === 'mbap') {
    if (frame.length < 8) return `Modbus TCP frame of ${frame.length} bytes`;
    const protocol = (frame[2] << 8) | frame[3];
    const len = (frame[4] << 8) | frame[5];
    if (protocol !== 0 || len !== frame.length - 6) return `Modbus TCP header (protocol ${protocol}, length ${len}) does not fit a frame of ${frame.length} bytes`;
    return frame.subarray(7);
  }
  if (frame.length < 4) return `RTU frame of ${frame.length} bytes`;
  const crc = frame[frame.length - 2] | (frame[frame.length - 1] << 8);
  if (crc16(frame, 0, frame.length - 2) !== crc) return 'RTU frame with a wrong CRC';
  return frame.subarray(1, frame.length - 2);
}

/** Throw request_refused unless `frame` is exactly one allowed request in this framing. */
export function checkFrame(frame: Uint8Array, framing: WireFraming, where: string): void {
  const pdu = framedPdu(frame, framing);
  if (typeof pdu === 'string') throw new ModbusError('request_refused', `${where}: refused to send a malformed frame: ${pdu}`);
  checkRequest(pdu, where);
}

/** The write end of a socket or serial port. */
export interface ByteSink {
  write(data: Uint8Array): unknown;
}

/** Write one request frame after checking it; throws request_refused and writes nothing otherwise. */
export function sendChecked(sink: ByteSink, frame: Buffer, framing: WireFraming, where: string): void {
  checkFrame(frame, framing, where);
  sink.write(frame);
}

/**
 * Replace `target.write` (a library's port or socket) with one that checks every frame first.
 * A refused frame is not written: onRefused gets the error, and the write throws it when
 * `throwOnRefusal` (the caller catches it) or reports success to a caller that cannot take a throw.
 */
export function guardWrites(
  target: { write: (...args: never[]) => unknown },
  framing: WireFraming,
  where: string,
  onRefused: (e: ModbusError) => void,
  throwOnRefusal: boolean,
): void {
  const original = target.write.bind(target) as (data: Uint8Array, ...rest: unknown[]) => unknown;
  const guarded = (data: Uint8Array, ...rest: unknown[]): unknown => {
    try {
      checkFrame(data, framing, where);
    } catch (e) {
      onRefused(e as ModbusError);
      if (throwOnRefusal) throw e;
      return true;
    }
    return original(data, ...rest);
  };
  // Left writable: Node itself replaces a socket's write with one that only fails after a FIN.
  Object.defineProperty(target, 'write', { value: guarded, writable: true, configurable: true });
}
