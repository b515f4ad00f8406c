// The Modbus application layer of one PLC: takes a request PDU for a unit id, counts it, applies it to
// the register image and returns the response PDU (or null when a real device would stay silent).
import type { RegisterImage } from './image.js';
import { DiagnosticCounters, handleDiagnostics } from './diagnostics.js';
import { handleReadDeviceId, type Identity } from './identity.js';
import { exceptionPdu, isException, EX_ILLEGAL_DATA_ADDRESS, EX_ILLEGAL_DATA_VALUE, EX_ILLEGAL_FUNCTION } from './exceptions.js';

export interface ModbusUnit {
  readonly unitId: number;
  readonly image: RegisterImage;
  readonly counters: DiagnosticCounters;
  identity: Identity;
  /** set by FC08 sub-function 0x04, cleared by 0x01 */
  listenOnly: boolean;
}

const MAX_READ_BITS = 2000;
const MAX_READ_REGISTERS = 125;
const MAX_WRITE_BITS = 1968;
const MAX_WRITE_REGISTERS = 123;
const WRITE_FCS = new Set([5, 6, 15, 16]);

/**
 * One frame seen on the bus. Counts it the way a serial-line device does (FC08 counters) and
 * returns the response PDU, or null for frames of other units, broadcasts and listen-only mode.
 */
export function handleFrame(unit: ModbusUnit, unitId: number, pdu: Buffer): Buffer | null {
  const c = unit.counters;
  c.busMessages++;
  if (unitId !== unit.unitId && unitId !== 0) return null;
  c.serverMessages++;
  if (pdu.length === 0) {
    c.noResponse++;
    return null;
  }
  const fc = pdu[0];
  if (unit.listenOnly) {
    // Only a restart (FC08/0x01) brings a listen-only device back; it does not answer that either.
    if (fc === 0x08 && pdu.length >= 3 && pdu.readUInt16BE(1) === 0x01) handleDiagnostics(unit, pdu);
    c.noResponse++;
    return null;
  }
  if (unitId === 0) {
    // Broadcast: writes are carried out, nothing is answered, reads are ignored.
    if (WRITE_FCS.has(fc)) applyRequest(unit, pdu);
    c.noResponse++;
    return null;
  }
  const res = applyRequest(unit, pdu);
  if (res === null) {
    c.noResponse++;
    return null;
  }
  if (isException(res)) c.exceptions++;
  return res;
}

/** Execute one request PDU on the unit; no counting. */
export function applyRequest(unit: ModbusUnit, pdu: Buffer): Buffer | null {
  const fc = pdu[0];
  switch (fc) {
    case 0x01:
      return readBits(fc, unit.image.coils, pdu);
    case 0x02:
      return readBits(fc, unit.image.discreteInputs, pdu);
    case 0x03:
      return readRegisters(fc, unit.image.holding, pdu);
    case 0x04:
      return readRegisters(fc, unit.image.input, pdu);
    case 0x05:
      return writeSingleCoil(unit.image, pdu);
    case 0x06:
      return writeSingleRegister(unit.image, pdu);
    case 0x0f:
      return writeMultipleCoils(unit.image, pdu);
    case 0x10:
      return writeMultipleRegisters(unit.image, pdu);
    case 0x08:
      return handleDiagnostics(unit, pdu);
    case 0x2b:
      return handleReadDeviceId(unit.identity, pdu);
    default:
      return exceptionPdu(fc, EX_ILLEGAL_FUNCTION);
  }
}

function readBits(fc: number, table: Uint8Array, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(fc, EX_ILLEGAL_DATA_VALUE);
  const addr = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  if (qty < 1 || qty > MAX_READ_BITS) return exceptionPdu(fc, EX_ILLEGAL_DATA_VALUE);
  if (addr + qty > table.length) return exceptionPdu(fc, EX_ILLEGAL_DATA_ADDRESS);
  const n = (qty + 7) >> 3;
  const out = Buffer.alloc(2 + n);
  out[0] = fc;
  out[1] = n;
  for (let i = 0; i < qty; i++) if (table[addr + i]) out[2 + (i >> 3)] |= 1 << (i & 7);
  return out;
}

function readRegisters(fc: number, table: Uint16Array, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(fc, EX_ILLEGAL_DATA_VALUE);
  const addr = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  if (qty < 1 || qty > MAX_READ_REGISTERS) return exceptionPdu(fc, EX_ILLEGAL_DATA_VALUE);
  if (addr + qty > table.length) return exceptionPdu(fc, EX_ILLEGAL_DATA_ADDRESS);
  const out = Buffer.allocUnsafe(2 + qty * 2);
  out[0] = fc;
  out[1] = qty * 2;
  for (let i = 0; i < qty; i++) {
    const v = table[addr + i];
    out[2 + i * 2] = v >> 8;
    out[3 + i * 2] = v & 0xff;
  }
  return out;
}

function writeSingleCoil(image: RegisterImage, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(0x05, EX_ILLEGAL_DATA_VALUE);
  const addr = pdu.readUInt16BE(1);
  const value = pdu.readUInt16BE(3);
  if (value !== 0xff00 && value !== 0x0000) return exceptionPdu(0x05, EX_ILLEGAL_DATA_VALUE);
  if (addr >= image.coils.length) return exceptionPdu(0x05, EX_ILLEGAL_DATA_ADDRESS);
  if (!image.clientWrite('coil', addr, [value ? 1 : 0])) return exceptionPdu(0x05, EX_ILLEGAL_DATA_VALUE);
  return Buffer.from(pdu);
}

function writeSingleRegister(image: RegisterImage, pdu: Buffer): Buffer {
  if (pdu.length !== 5) return exceptionPdu(0x06, EX_ILLEGAL_DATA_VALUE);
  const addr = pdu.readUInt16BE(1);
  if (addr >= image.holding.length) return exceptionPdu(0x06, EX_ILLEGAL_DATA_ADDRESS);
  if (!image.clientWrite('holding_register', addr, [pdu.readUInt16BE(3)])) return exceptionPdu(0x06, EX_ILLEGAL_DATA_VALUE);
  return Buffer.from(pdu);
}

function writeMultipleCoils(image: RegisterImage, pdu: Buffer): Buffer {
  if (pdu.length < 6) return exceptionPdu(0x0f, EX_ILLEGAL_DATA_VALUE);
  const addr = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  const bytes = pdu[5];
  if (qty < 1 || qty > MAX_WRITE_BITS || bytes !== (qty + 7) >> 3 || pdu.length !== 6 + bytes) return exceptionPdu(0x0f, EX_ILLEGAL_DATA_VALUE);
  if (addr + qty > image.coils.length) return exceptionPdu(0x0f, EX_ILLEGAL_DATA_ADDRESS);
  const values = new Uint8Array(qty);
  for (let i = 0; i < qty; i++) values[i] = (pdu[6 + (i >> 3)] >> (i & 7)) & 1;
  if (!image.clientWrite('coil', addr, values)) return exceptionPdu(0x0f, EX_ILLEGAL_DATA_VALUE);
  return Buffer.from(pdu.subarray(0, 5));
}

function writeMultipleRegisters(image: RegisterImage, pdu: Buffer): Buffer {
  if (pdu.length < 6) return exceptionPdu(0x10, EX_ILLEGAL_DATA_VALUE);
  const addr = pdu.readUInt16BE(1);
  const qty = pdu.readUInt16BE(3);
  const bytes = pdu[5];
  if (qty < 1 || qty > MAX_WRITE_REGISTERS || bytes !== qty * 2 || pdu.length !== 6 + bytes) return exceptionPdu(0x10, EX_ILLEGAL_DATA_VALUE);
  if (addr + qty > image.holding.length) return exceptionPdu(0x10, EX_ILLEGAL_DATA_ADDRESS);
  const values = new Uint16Array(qty);
  for (let i = 0; i < qty; i++) values[i] = pdu.readUInt16BE(6 + i * 2);
  if (!image.clientWrite('holding_register', addr, values)) return exceptionPdu(0x10, EX_ILLEGAL_DATA_VALUE);
  return Buffer.from(pdu.subarray(0, 5));
}

/** Request PDU builders, for scenarios that act as another master. */
export function readRequest(fc: 1 | 2 | 3 | 4, address: number, quantity: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = fc;
  b.writeUInt16BE(address, 1);
  b.writeUInt16BE(quantity, 3);
  return b;
}

export function writeRegistersRequest(address: number, values: ArrayLike<number>): Buffer {
  const b = Buffer.allocUnsafe(6 + values.length * 2);
  b[0] = 0x10;
  b.writeUInt16BE(address, 1);
  b.writeUInt16BE(values.length, 3);
  b[5] = values.length * 2;
  for (let i = 0; i < values.length; i++) b.writeUInt16BE(values[i] & 0xffff, 6 + i * 2);
  return b;
}

export function writeCoilRequest(address: number, on: boolean): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = 0x05;
  b.writeUInt16BE(address, 1);
  b.writeUInt16BE(on ? 0xff00 : 0, 3);
  return b;
}
