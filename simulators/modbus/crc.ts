// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), table driven: RTU frames end with it, low byte first.

// The same CRC the poller checks answers with.
import { crc16 } from '../../protocols/modbus/frame.js';

export { crc16 };

/** True when the last two bytes of buf[start, end) are the CRC of the bytes before them. */
export function crcMatches(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 3) return false;
  const crc = crc16(buf, start, end - 2);
  return buf[end - 2] === (crc & 0xff) && buf[end - 1] === crc >>> 8;
}
