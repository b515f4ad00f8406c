// Identity (FC43/MEI 14 Read Device Identification) and diagnostics (FC08 counter reads) of a device.
import { ModbusError } from './errors.js';
import { DIAGNOSTIC_COUNTERS, deviceIdPdu, diagnosticsPdu, type DiagnosticCounter } from './frame.js';

/** Sends one request PDU and resolves with the checked answer PDU (the poller counts and paces). */
export type Ask = (pdu: Buffer) => Promise<Buffer>;

/** Device identification object ids (Modbus spec 6.21). */
const OBJECT_FIELDS: Readonly<Record<number, string>> = {
  0: 'vendor',
  1: 'product_code',
  2: 'revision',
  3: 'vendor_url',
  4: 'product_name',
  5: 'model_name',
  6: 'user_application_name',
};

export interface IdentityData {
  vendor: string;
  product_code: string;
  revision: string;
  vendor_url?: string;
  product_name?: string;
  model_name?: string;
  user_application_name?: string;
  conformity_level: number;
  [key: string]: unknown;
}

/** Decode one FC43/14 answer PDU into objects; throws bad_response when malformed. */
export function parseDeviceIdAnswer(pdu: Buffer): { conformity: number; more: boolean; nextObject: number; objects: Map<number, string> } {
  if (pdu.length < 7 || pdu[0] !== 43 || pdu[1] !== 0x0e) throw new ModbusError('bad_response', 'not a device identification answer');
  const conformity = pdu[3];
  const more = pdu[4] === 0xff;
  const nextObject = pdu[5];
  const count = pdu[6];
  const objects = new Map<number, string>();
  let p = 7;
  for (let i = 0; i < count; i++) {
    if (p + 2 > pdu.length || p + 2 + pdu[p + 1] > pdu.length) throw new ModbusError('bad_response', `device identification answer is cut short in object ${i + 1} of ${count}`);
    const id = pdu[p];
    const len = pdu[p + 1];
    objects.set(id, pdu.toString('latin1', p + 2, p + 2 + len).replace(/\0+$/, ''));
    p += 2 + len;
  }
  return { conformity, more, nextObject, objects };
}

/**
 * Read the identity objects. Asks for the regular set (code 2) and falls back to the basic set
 * (code 1) when the device refuses it; follows "more follows" for at most 8 answers.
 * Throws the device's ModbusError when it supports neither.
 */
export async function readIdentity(ask: Ask): Promise<IdentityData> {
  let objects: Map<number, string>;
  let conformity: number;
  try {
    ({ objects, conformity } = await readDeviceIdSet(ask, 2));
  } catch (e) {
    const exc = e instanceof ModbusError && e.code === 'modbus_exception' ? e.exception_code : undefined;
    if (exc !== 2 && exc !== 3) throw e;
    ({ objects, conformity } = await readDeviceIdSet(ask, 1));
  }
  const data: IdentityData = {
    vendor: objects.get(0) ?? '',
    product_code: objects.get(1) ?? '',
    revision: objects.get(2) ?? '',
    conformity_level: conformity,
  };
  for (const [id, value] of objects) {
    const field = OBJECT_FIELDS[id];
    if (id > 2 && field) data[field] = value;
  }
  return data;
}

async function readDeviceIdSet(ask: Ask, code: number): Promise<{ objects: Map<number, string>; conformity: number }> {
  const objects = new Map<number, string>();
  let next = 0;
  let conformity = 0;
  for (let round = 0; round < 8; round++) {
    const answer = parseDeviceIdAnswer(await ask(deviceIdPdu(code, next)));
    conformity = answer.conformity;
    for (const [id, v] of answer.objects) objects.set(id, v);
    // Stop on "no more", or when a device points back to where we were (it would loop forever).
    if (!answer.more || answer.objects.size === 0 || answer.nextObject <= next) break;
    next = answer.nextObject;
  }
  return { objects, conformity };
}

export interface DiagnosticsRead {
  /** counter name -> value, for the counters the device answered */
  counters: Partial<Record<DiagnosticCounter, number>>;
  /** the device refused or ignored FC08 as a whole */
  unsupported: boolean;
  /** ask(): requests sent so far, snapshotted right after server_message_count was answered */
  requestsAtServerCount?: number;
}

/**
 * Read the FC08 counters (sub-functions 0x0B..0x12 only; see frame.ts), all or `only` those, in
 * sub-function order, one request each. An illegal-function
 * exception or a timeout means the device does not do FC08: stop at once. Another exception
 * skips that one counter. Connection errors are thrown.
 */
export async function readDiagnostics(ask: Ask, requestsSent: () => number, only?: readonly DiagnosticCounter[]): Promise<DiagnosticsRead> {
  const out: DiagnosticsRead = { counters: {}, unsupported: false };
  for (const [name, sub] of Object.entries(DIAGNOSTIC_COUNTERS) as [DiagnosticCounter, number][]) {
    if (only && !only.includes(name)) continue;
    try {
      const res = await ask(diagnosticsPdu(sub));
      out.counters[name] = res.readUInt16BE(3);
      if (name === 'server_message_count') out.requestsAtServerCount = requestsSent();
    } catch (e) {
      if (!(e instanceof ModbusError)) throw e;
      if (e.code === 'timeout' || (e.code === 'modbus_exception' && e.exception_code === 1)) {
        out.unsupported = Object.keys(out.counters).length === 0;
        return out;
      }
      if (e.code === 'modbus_exception') continue;
      throw e;
    }
  }
  return out;
}
