// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), table driven: RTU frames end with it, low byte first.

const TABLE = buildTable();

function buildTable(): Uint16Array {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
}

/** CRC of buf[start, end). */
export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ buf[i]) & 0xff];
  return crc;
}

/** True when the last two bytes of buf[start, end) are the CRC of the bytes before them. */
export function crcMatches(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 3) return false;
  const crc = crc16(buf, start, end - 2);
  return buf[end - 2] === (crc & 0xff) && buf[end - 1] === crc >>> 8;
}
