// FC43 / MEI 14 read device identification: basic and regular objects, stream access (read codes 1-3)
// with the "more follows" mechanism, and individual access (read code 4).
import { exceptionPdu, EX_ILLEGAL_DATA_ADDRESS, EX_ILLEGAL_DATA_VALUE, EX_ILLEGAL_FUNCTION } from './exceptions.js';

export interface Identity {
  vendor_name: string;
  product_code: string;
  revision: string;
  vendor_url: string;
  product_name: string;
  model_name: string;
  user_application_name: string;
}

/** Object id i holds IDENTITY_OBJECTS[i]; 0-2 are basic, 3-6 regular. */
export const IDENTITY_OBJECTS = ['vendor_name', 'product_code', 'revision', 'vendor_url', 'product_name', 'model_name', 'user_application_name'] as const;

/** Longest object value that fits one response PDU (253 bytes - 7 header - 2 object header). */
export const MAX_OBJECT_LENGTH = 244;
const MAX_PDU = 253;
const MEI_READ_DEVICE_ID = 0x0e;

function objects(identity: Identity): Array<{ id: number; value: Buffer } | null> {
  return IDENTITY_OBJECTS.map((key, id) => {
    const s = identity[key];
    // Basic objects are mandatory (sent even when empty); regular ones only when set.
    if (id > 2 && s === '') return null;
    return { id, value: Buffer.from(s, 'latin1').subarray(0, MAX_OBJECT_LENGTH) };
  });
}

/** Conformity level: 0x82 = regular identification, stream and individual access. */
export function conformityLevel(identity: Identity): number {
  return objects(identity).some((o, id) => id > 2 && o !== null) ? 0x82 : 0x81;
}

export function handleReadDeviceId(identity: Identity, pdu: Buffer): Buffer {
  if (pdu.length < 2 || pdu[1] !== MEI_READ_DEVICE_ID) return exceptionPdu(0x2b, EX_ILLEGAL_FUNCTION);
  if (pdu.length !== 4) return exceptionPdu(0x2b, EX_ILLEGAL_DATA_VALUE);
  const code = pdu[2];
  const objectId = pdu[3];
  if (code < 1 || code > 4) return exceptionPdu(0x2b, EX_ILLEGAL_DATA_VALUE);
  const all = objects(identity);
  const conformity = conformityLevel(identity);

  if (code === 4) {
    const o = all[objectId];
    if (!o) return exceptionPdu(0x2b, EX_ILLEGAL_DATA_ADDRESS);
    return response(code, conformity, 0, 0, [o]);
  }

  const maxId = code === 1 ? 2 : all.length - 1;
  // An unknown start object restarts the stream at object 0 (spec 6.21).
  let start = objectId;
  if (start > maxId || !all[start]) start = 0;
  const picked: Array<{ id: number; value: Buffer }> = [];
  let size = 7;
  let more = 0;
  let next = 0;
  for (let id = start; id <= maxId; id++) {
    const o = all[id];
    if (!o) continue;
    if (size + 2 + o.value.length > MAX_PDU) {
      more = 0xff;
      next = id;
      break;
    }
    picked.push(o);
    size += 2 + o.value.length;
  }
  return response(code, conformity, more, next, picked);
}

function response(code: number, conformity: number, more: number, next: number, list: Array<{ id: number; value: Buffer }>): Buffer {
  const size = 7 + list.reduce((n, o) => n + 2 + o.value.length, 0);
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x2b;
  out[1] = MEI_READ_DEVICE_ID;
  out[2] = code;
  out[3] = conformity;
  out[4] = more;
  out[5] = next;
  out[6] = list.length;
  let p = 7;
  for (const o of list) {
    out[p++] = o.id;
    out[p++] = o.value.length;
    o.value.copy(out, p);
    p += o.value.length;
  }
  return out;
}
