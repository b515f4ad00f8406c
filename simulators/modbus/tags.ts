// Tag definitions of a process model's register map, and their encoding into the register image.
import type { Area, RegisterImage } from './image.js';

export type TagType = 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32';

export interface TagDef {
  name: string;
  area: Area;
  address: number;
  type: TagType;
  /** 32-bit values: big = high word first */
  word_order?: 'big' | 'little';
  /** engineering value = raw * scale */
  scale?: number;
  unit?: string;
  description: string;
  /** range seen in normal operation, for people and for range tests */
  normal?: [number, number];
  /** a measurement that changes in normal operation (a stuck detector may watch it) */
  live?: boolean;
}

const scratch = new DataView(new ArrayBuffer(4));

export function tagWidth(t: TagDef): number {
  return t.type === 'int32' || t.type === 'uint32' || t.type === 'float32' ? 2 : 1;
}

/** Engineering value of a tag (booleans as 0/1). */
export function readTag(image: RegisterImage, t: TagDef): number {
  const table = image.table(t.area);
  if (t.type === 'bool') return table[t.address] ? 1 : 0;
  const scale = t.scale ?? 1;
  if (t.type === 'uint16') return table[t.address] * scale;
  if (t.type === 'int16') {
    scratch.setUint16(0, table[t.address]);
    return scratch.getInt16(0) * scale;
  }
  const [hi, lo] = t.word_order === 'little' ? [table[t.address + 1], table[t.address]] : [table[t.address], table[t.address + 1]];
  scratch.setUint16(0, hi);
  scratch.setUint16(2, lo);
  const raw = t.type === 'float32' ? scratch.getFloat32(0) : t.type === 'int32' ? scratch.getInt32(0) : scratch.getUint32(0);
  return raw * scale;
}

/** Store an engineering value; integers are rounded and wrapped like a PLC's integer conversion. */
export function writeTag(image: RegisterImage, t: TagDef, value: number): void {
  const table = image.table(t.area);
  if (t.type === 'bool') {
    table[t.address] = value ? 1 : 0;
    return;
  }
  const raw = value / (t.scale ?? 1);
  if (t.type === 'uint16' || t.type === 'int16') {
    table[t.address] = Math.round(raw) & 0xffff;
    return;
  }
  if (t.type === 'float32') scratch.setFloat32(0, raw);
  else scratch.setUint32(0, Math.round(raw) >>> 0);
  const hi = scratch.getUint16(0);
  const lo = scratch.getUint16(2);
  if (t.word_order === 'little') {
    table[t.address] = lo;
    table[t.address + 1] = hi;
  } else {
    table[t.address] = hi;
    table[t.address + 1] = lo;
  }
}

export function findTag(tags: readonly TagDef[], name: string): TagDef {
  const t = tags.find((x) => x.name === name);
  if (!t) throw new Error(`unknown tag ${name}; known tags: ${tags.map((x) => x.name).join(', ')}`);
  return t;
}

/** The register words a client would write for an engineering value (FC16 payload); bools give [0|1]. */
export function encodeWords(t: TagDef, value: number): number[] {
  if (t.type === 'bool') return [value ? 1 : 0];
  const raw = value / (t.scale ?? 1);
  if (t.type === 'uint16' || t.type === 'int16') return [Math.round(raw) & 0xffff];
  if (t.type === 'float32') scratch.setFloat32(0, raw);
  else scratch.setUint32(0, Math.round(raw) >>> 0);
  const hi = scratch.getUint16(0);
  const lo = scratch.getUint16(2);
  return t.word_order === 'little' ? [lo, hi] : [hi, lo];
}
