// From OPC UA DataValues to sample values and qualities: scalars to numbers, booleans or strings,
// the StatusCode's severity to good / uncertain / bad. Pure; node-opcua objects are read by shape.
import type { Quality } from '../types.js';

/** What this file reads of a node-opcua StatusCode. */
export interface StatusLike {
  value: number;
  name: string;
}

/** What this file reads of a node-opcua Variant. */
export interface VariantLike {
  dataType: number;
  arrayType?: number;
  value: unknown;
}

/** DataType ids (OPC UA Part 6) this file converts. */
const DT = {
  Boolean: 1,
  SByte: 2,
  Byte: 3,
  Int16: 4,
  UInt16: 5,
  Int32: 6,
  UInt32: 7,
  Int64: 8,
  UInt64: 9,
  Float: 10,
  Double: 11,
  String: 12,
  DateTime: 13,
  Guid: 14,
  ByteString: 15,
  NodeId: 17,
  StatusCode: 19,
  QualifiedName: 20,
  LocalizedText: 21,
} as const;

/** Quality of a StatusCode: the two top bits are its severity (00 good, 01 uncertain, 1x bad). */
export function qualityOf(status: StatusLike): Quality {
  const severity = status.value >>> 30;
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad';
}

/**
 * Bounds on what a server hands over (node-opcua itself allows 16 MB strings and 1M-entry arrays):
 * a sample string or byte string above these is a bad value with the reason; strings in facts
 * (BuildInfo, certificate fields, endpoint URLs) are cut, with a note of their full length.
 */
export const MAX_VALUE_CHARS = 1024;
export const MAX_VALUE_BYTES = 1024;
export const MAX_FACT_CHARS = 256;

/** A string for a fact: at most MAX_FACT_CHARS (plus a note of how long it was). */
export function factString(s: string, max = MAX_FACT_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}

/** A string sample value, or a bad value when it is over MAX_VALUE_CHARS. */
function stringValue(x: unknown): Decoded {
  if (typeof x !== 'string') return { value: null, reason: 'invalid string' };
  if (x.length > MAX_VALUE_CHARS) return { value: null, reason: `string of ${x.length} characters is over the limit of ${MAX_VALUE_CHARS}; point node_id at a shorter value` };
  return { value: x };
}

export interface Decoded {
  value: number | boolean | string | null;
  /** set when the value cannot be used */
  reason?: string;
}

/** node-opcua keeps 64-bit integers as [high, low] 32-bit halves. */
function int64(v: unknown, signed: boolean): number {
  if (typeof v === 'bigint') return Number(v);
  if (!Array.isArray(v) || v.length !== 2) return Number.NaN;
  const hi = signed ? v[0] | 0 : v[0] >>> 0;
  return hi * 4294967296 + (v[1] >>> 0);
}

/** A sample value from a Variant: numbers, booleans and strings; other types are refused with a reason. */
export function decodeVariant(v: VariantLike | null | undefined): Decoded {
  if (!v || v.value === null || v.value === undefined) return { value: null, reason: 'no value' };
  if (v.arrayType !== undefined && v.arrayType !== 0) return { value: null, reason: 'arrays are not supported; point node_id at a scalar' };
  const x = v.value;
  switch (v.dataType) {
    case DT.Boolean:
      return { value: Boolean(x) };
    case DT.SByte:
    case DT.Byte:
    case DT.Int16:
    case DT.UInt16:
    case DT.Int32:
    case DT.UInt32:
    case DT.Float:
    case DT.Double: {
      const n = Number(x);
      return Number.isFinite(n) ? { value: n } : { value: null, reason: `value is ${Number.isNaN(n) ? 'NaN' : n > 0 ? '+Infinity' : '-Infinity'}` };
    }
    case DT.Int64:
    case DT.UInt64: {
      const n = int64(x, v.dataType === DT.Int64);
      return Number.isFinite(n) ? { value: n } : { value: null, reason: 'unreadable 64-bit integer' };
    }
    case DT.String:
      return stringValue(x);
    case DT.DateTime:
      return x instanceof Date && Number.isFinite(x.getTime()) ? { value: x.getTime() } : { value: null, reason: 'invalid DateTime' };
    case DT.LocalizedText:
      return stringValue((x as { text?: unknown }).text ?? '');
    case DT.QualifiedName:
      return stringValue((x as { name?: unknown }).name ?? '');
    case DT.StatusCode:
      return { value: (x as { value?: number }).value ?? null };
    case DT.Guid:
    case DT.NodeId:
      return stringValue(String(x));
    case DT.ByteString:
      if (!Buffer.isBuffer(x)) return { value: null, reason: 'invalid ByteString' };
      if (x.length > MAX_VALUE_BYTES) return { value: null, reason: `byte string of ${x.length} bytes is over the limit of ${MAX_VALUE_BYTES}; point node_id at a shorter value` };
      return { value: x.toString('base64') };
    default:
      return { value: null, reason: `data type ${v.dataType} is not supported; read a scalar number, boolean or string` };
  }
}

/**
 * Scalar of a Variant for facts (BuildInfo strings, dates as ISO, numbers, booleans); strings cut
 * to MAX_FACT_CHARS. Arrays and structures are no identity field: null.
 */
export function plainValue(v: VariantLike | null | undefined): string | number | boolean | null {
  if (!v || v.value === null || v.value === undefined) return null;
  if (v.arrayType !== undefined && v.arrayType !== 0) return null;
  const x = v.dataType === DT.LocalizedText ? (v.value as { text?: unknown }).text : v.value;
  if (x instanceof Date) return Number.isFinite(x.getTime()) ? x.toISOString() : null;
  if (typeof x === 'string') return factString(x);
  if (typeof x === 'number' || typeof x === 'boolean') return x;
  return null;
}

/** camelCase fields of an OPC UA structure as snake_case numbers (ServerDiagnosticsSummary). */
export function snakeNumbers(obj: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!obj || typeof obj !== 'object') return out;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'number') out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  }
  return out;
}
