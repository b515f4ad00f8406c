// Decoders: turn bytes of a read response into tag values, straight from the response buffer (pure).
//
// A codec is a small integer chosen once per tag at plan time (value kind x byte layout), so the
// per-sample path is one switch and a few byte reads, with no allocation.
import { tagType, type ModbusTag } from './config.js';

/** Value kinds. */
export const KIND = {
  /** one bit of a coil / discrete input response */
  BIT: 0,
  /** one bit of a register */
  REG_BIT: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
} as const;

/** Byte layout flags, or-ed into the codec. */
export const BYTE_LITTLE = 1;
export const WORD_LITTLE = 2;

/** kind * 4 + layout flags */
export type Codec = number;

export function makeCodec(kind: number, wordOrder: 'big' | 'little' = 'big', byteOrder: 'big' | 'little' = 'big'): Codec {
  return kind * 4 + (wordOrder === 'little' ? WORD_LITTLE : 0) + (byteOrder === 'little' ? BYTE_LITTLE : 0);
}

export function codecOf(tag: ModbusTag): Codec {
  if (tag.area === 'coil' || tag.area === 'discrete_input') return makeCodec(KIND.BIT);
  const t = tagType(tag);
  const kind =
    t === 'bool' ? KIND.REG_BIT : t === 'uint16' ? KIND.UINT16 : t === 'int16' ? KIND.INT16 : t === 'uint32' ? KIND.UINT32 : t === 'int32' ? KIND.INT32 : KIND.FLOAT32;
  return makeCodec(kind, tag.word_order, tag.byte_order);
}

// One scratch word for float32 reassembly; decoding is synchronous, so sharing it is safe.
const scratch = new DataView(new ArrayBuffer(4));

/**
 * Raw value (before scale/offset) of one tag.
 * @param data response buffer
 * @param start offset of the first data byte (after the byte count)
 * @param index register index (registers) or bit index (coils/discrete inputs) inside the response
 * @param bit bit number for REG_BIT (0 = least significant)
 */
export function decodeRaw(data: Uint8Array, start: number, index: number, codec: Codec, bit = 0): number | boolean {
  const kind = codec >> 2;
  const byteLittle = (codec & BYTE_LITTLE) !== 0;
  if (kind === KIND.BIT) return (data[start + (index >> 3)] & (1 << (index & 7))) !== 0;
  const p = start + index * 2;
  if (kind <= KIND.INT16) {
    const v = byteLittle ? (data[p + 1] << 8) | data[p] : (data[p] << 8) | data[p + 1];
    if (kind === KIND.REG_BIT) return ((v >> bit) & 1) === 1;
    if (kind === KIND.UINT16) return v;
    return v > 0x7fff ? v - 0x10000 : v;
  }
  // 32-bit: registers r0 = bytes p, p+1 and r1 = bytes p+2, p+3 on the wire.
  const q = (codec & WORD_LITTLE) !== 0 ? p + 2 : p; // register holding the high word
  const r = q === p ? p + 2 : p; // register holding the low word
  const b0 = byteLittle ? data[q + 1] : data[q];
  const b1 = byteLittle ? data[q] : data[q + 1];
  const b2 = byteLittle ? data[r + 1] : data[r];
  const b3 = byteLittle ? data[r] : data[r + 1];
  if (kind === KIND.UINT32) return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  if (kind === KIND.INT32) return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
  scratch.setUint8(0, b0);
  scratch.setUint8(1, b1);
  scratch.setUint8(2, b2);
  scratch.setUint8(3, b3);
  return scratch.getFloat32(0, false);
}

/** Engineering value: raw * scale + offset for numbers; booleans pass through. */
export function decodeValue(data: Uint8Array, start: number, index: number, codec: Codec, bit: number, scale: number, offset: number): number | boolean {
  const raw = decodeRaw(data, start, index, codec, bit);
  return typeof raw === 'number' ? raw * scale + offset : raw;
}

/** Why a decoded number cannot be used (NaN or infinite float), or undefined when it is fine. */
export function badNumberReason(v: number): string | undefined {
  if (Number.isFinite(v)) return undefined;
  if (Number.isNaN(v)) return 'float32 value is NaN';
  return v > 0 ? 'float32 value is +Infinity' : 'float32 value is -Infinity';
}

/** Bytes a read of `quantity` registers or bits returns (the byte count field). */
export function dataBytes(functionCode: number, quantity: number): number {
  return functionCode <= 2 ? (quantity + 7) >> 3 : quantity * 2;
}
