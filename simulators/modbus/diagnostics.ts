// FC08 diagnostics: the communication counters a Modbus serial-line device keeps, and the sub-functions
// that read (0x0B-0x12), echo (0x00), clear (0x0A), restart (0x01) or silence (0x04) them.
import { exceptionPdu, EX_ILLEGAL_FUNCTION, EX_ILLEGAL_DATA_VALUE } from './exceptions.js';

export class DiagnosticCounters {
  /** 0x0B: every well-formed frame seen on the bus, for any unit id */
  busMessages = 0;
  /** 0x0C: CRC and framing errors */
  busCommErrors = 0;
  /** 0x0D: exception responses sent */
  exceptions = 0;
  /** 0x0E: frames addressed to this unit (or broadcast) */
  serverMessages = 0;
  /** 0x0F: frames addressed to this unit that got no response (broadcast, listen-only) */
  noResponse = 0;
  /** 0x10: negative acknowledge (exception 07) responses; never produced here */
  naks = 0;
  /** 0x11: server busy (exception 06) responses; never produced here */
  busy = 0;
  /** 0x12: frames dropped because they were longer than a Modbus frame can be */
  overruns = 0;

  clear(): void {
    this.busMessages = 0;
    this.busCommErrors = 0;
    this.exceptions = 0;
    this.serverMessages = 0;
    this.noResponse = 0;
    this.naks = 0;
    this.busy = 0;
    this.overruns = 0;
  }

  /** Value of a counter sub-function, as the 16-bit register a device returns (wraps at 65536). */
  read(subFunction: number): number | undefined {
    const v = COUNTER_OF[subFunction];
    return v === undefined ? undefined : this[v] & 0xffff;
  }

  snapshot(): Record<CounterName, number> {
    return {
      busMessages: this.busMessages,
      busCommErrors: this.busCommErrors,
      exceptions: this.exceptions,
      serverMessages: this.serverMessages,
      noResponse: this.noResponse,
      naks: this.naks,
      busy: this.busy,
      overruns: this.overruns,
    };
  }
}

export type CounterName = 'busMessages' | 'busCommErrors' | 'exceptions' | 'serverMessages' | 'noResponse' | 'naks' | 'busy' | 'overruns';

export const COUNTER_OF: Record<number, CounterName> = {
  0x0b: 'busMessages',
  0x0c: 'busCommErrors',
  0x0d: 'exceptions',
  0x0e: 'serverMessages',
  0x0f: 'noResponse',
  0x10: 'naks',
  0x11: 'busy',
  0x12: 'overruns',
};

export interface DiagnosticsUnit {
  counters: DiagnosticCounters;
  listenOnly: boolean;
}

/**
 * Handle an FC08 request PDU. Returns the response PDU, or null when the sub-function answers
 * nothing (0x04 listen only; 0x01 restart while in listen-only mode).
 */
export function handleDiagnostics(unit: DiagnosticsUnit, pdu: Buffer): Buffer | null {
  if (pdu.length < 3) return exceptionPdu(0x08, EX_ILLEGAL_DATA_VALUE);
  const sub = pdu.readUInt16BE(1);
  const data = pdu.subarray(3);
  const data16 = data.length === 2 ? data.readUInt16BE(0) : -1;
  switch (sub) {
    case 0x00:
      // Return query data: echo the request as it came.
      return Buffer.from(pdu);
    case 0x01: {
      if (data16 !== 0x0000 && data16 !== 0xff00) return exceptionPdu(0x08, EX_ILLEGAL_DATA_VALUE);
      const wasListenOnly = unit.listenOnly;
      unit.listenOnly = false;
      unit.counters.clear();
      return wasListenOnly ? null : Buffer.from(pdu);
    }
    case 0x04:
      if (data16 !== 0x0000) return exceptionPdu(0x08, EX_ILLEGAL_DATA_VALUE);
      unit.listenOnly = true;
      return null;
    case 0x0a:
      if (data16 !== 0x0000) return exceptionPdu(0x08, EX_ILLEGAL_DATA_VALUE);
      unit.counters.clear();
      return Buffer.from(pdu);
    default: {
      const value = unit.counters.read(sub);
      if (value === undefined) return exceptionPdu(0x08, EX_ILLEGAL_FUNCTION);
      if (data16 !== 0x0000) return exceptionPdu(0x08, EX_ILLEGAL_DATA_VALUE);
      const out = Buffer.allocUnsafe(5);
      out[0] = 0x08;
      out.writeUInt16BE(sub, 1);
      out.writeUInt16BE(value, 3);
      return out;
    }
  }
}
