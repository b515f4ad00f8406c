// Tests of Modbus frames: CRC, RTU answer lengths, response checks, the FC08 allow-list, FC43 parsing.
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_COUNTER_NAMES } from '../../../protocols/modbus/config.js';
import { ModbusError } from '../../../protocols/modbus/errors.js';
import { parseDeviceIdAnswer } from '../../../protocols/modbus/facts.js';
import {
  DIAGNOSTIC_COUNTERS,
  checkResponse,
  crc16,
  describePdu,
  deviceIdPdu,
  diagnosticsPdu,
  rtuAnswerLength,
  rtuCrcOk,
  rtuFrame,
} from '../../../protocols/modbus/frame.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const req3 = hex('03 0000 0002'); // read 2 holding registers from 0

function thrown(fn: () => void): ModbusError {
  try {
    fn();
  } catch (e) {
    return e as ModbusError;
  }
  throw new Error('did not throw');
}

describe('crc16', () => {
  it('matches the Modbus spec example', () => {
    // 01 03 00 00 00 0A -> CRC C5 CD (low byte first on the wire)
    const f = rtuFrame(1, hex('03 0000 000a'));
    expect(f.toString('hex')).toBe('01030000000ac5cd');
    expect(rtuCrcOk(f, 0, f.length)).toBe(true);
    f[3] ^= 1;
    expect(rtuCrcOk(f, 0, f.length)).toBe(false);
    expect(crc16(hex(''))).toBe(0xffff);
  });
});

describe('checkResponse', () => {
  it('accepts a fitting read answer', () => {
    expect(() => checkResponse(req3, hex('03 04 0001 0002'))).not.toThrow();
    expect(() => checkResponse(hex('01 0000 000a'), hex('01 02 ff 03'))).not.toThrow();
  });
  it('turns an exception answer into modbus_exception with its code', () => {
    const e = thrown(() => checkResponse(req3, hex('83 02')));
    expect(e).toMatchObject({ code: 'modbus_exception', exception_code: 2 });
    expect(e.message).toMatch(/illegal data address/);
  });
  const bad: [string, string, string][] = [
    ['too short', '03', 'too short'],
    ['wrong function code', '04 04 0001 0002', 'function code 4'],
    ['wrong byte count', '03 02 0001', 'data bytes'],
    ['byte count beyond the data', '03 04 0001', 'data bytes'],
    ['exception with extra bytes', '83 02 00', 'exception answer'],
  ];
  for (const [name, res, msg] of bad) {
    it(`bad_response: ${name}`, () => {
      const e = thrown(() => checkResponse(req3, hex(res)));
      expect(e.code).toBe('bad_response');
      expect(e.message).toContain(msg);
    });
  }
  it('checks the FC08 echo', () => {
    const req = diagnosticsPdu(0x0e);
    expect(() => checkResponse(req, hex('08 000e 0007'))).not.toThrow();
    expect(thrown(() => checkResponse(req, hex('08 000b 0007'))).code).toBe('bad_response');
  });
});

describe('FC08 allow-list', () => {
  it('builds only counter reads 0x0B..0x12', () => {
    for (const sub of Object.values(DIAGNOSTIC_COUNTERS)) expect([...diagnosticsPdu(sub)]).toEqual([8, 0, sub, 0, 0]);
    expect(Object.values(DIAGNOSTIC_COUNTERS)).toEqual([0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12]);
    expect(Object.keys(DIAGNOSTIC_COUNTERS)).toEqual([...DIAGNOSTIC_COUNTER_NAMES]); // the config's names
  });
  it('refuses restart (0x01), listen-only (0x04), clear counters (0x0A) and every other sub-function', () => {
    for (const sub of [0x00, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x13, 0x14, 0x15, 0xffff]) {
      expect(() => diagnosticsPdu(sub)).toThrow(/not a counter read/);
    }
  });
});

describe('rtuAnswerLength', () => {
  const f = (s: string) => hex(s);
  it('reads and exceptions', () => {
    expect(rtuAnswerLength(req3, 1, f('01 03 04 0001 0002 0000'), 0)).toBe(9);
    expect(rtuAnswerLength(req3, 1, f('01 03'), 0)).toBe(0);
    expect(rtuAnswerLength(req3, 1, f('01 83 02 0000'), 0)).toBe(5);
    expect(rtuAnswerLength(req3, 1, f('01 03 02'), 0)).toBe(-1); // wrong byte count
    expect(rtuAnswerLength(req3, 1, f('02 03 04'), 0)).toBe(-1); // other unit
    expect(rtuAnswerLength(req3, 1, f('01 04 04'), 0)).toBe(-1); // other function
    expect(rtuAnswerLength(req3, 1, f('07'), 0)).toBe(-1);
  });
  it('FC08 and FC43', () => {
    expect(rtuAnswerLength(diagnosticsPdu(0x0b), 1, f('01 08'), 0)).toBe(8);
    const id = f('01 2b 0e 01 01 00 00 02 00 03 414243 01 01 58');
    // Once the objects are in, the length is known (the caller waits for the CRC bytes).
    expect(rtuAnswerLength(deviceIdPdu(1, 0), 1, id, 0)).toBe(id.length + 2);
    expect(rtuAnswerLength(deviceIdPdu(1, 0), 1, Buffer.concat([f('ffff'), id]), 2)).toBe(id.length + 2);
    expect(rtuAnswerLength(deviceIdPdu(1, 0), 1, id.subarray(0, 12), 0)).toBe(0);
  });
});

describe('parseDeviceIdAnswer', () => {
  it('reads the objects and the follow-up state', () => {
    const pdu = hex('2b 0e 01 81 ff 02 02 00 03 414243 01 02 5859');
    expect(parseDeviceIdAnswer(pdu)).toEqual({
      conformity: 0x81,
      more: true,
      nextObject: 2,
      objects: new Map([
        [0, 'ABC'],
        [1, 'XY'],
      ]),
    });
  });
  it('refuses a cut answer', () => {
    expect(() => parseDeviceIdAnswer(hex('2b 0e 01 01 00 00 02 00 03 4142'))).toThrow(/cut short/);
  });
});

describe('describePdu', () => {
  it('names requests for people', () => {
    expect(describePdu(hex('03 0064 000a'))).toBe('FC03 100..109');
    expect(describePdu(diagnosticsPdu(0x0e))).toBe('FC08 sub-function 0x0e');
    expect(describePdu(deviceIdPdu(2, 0))).toBe('FC43/14 code 2 object 0');
  });
});
