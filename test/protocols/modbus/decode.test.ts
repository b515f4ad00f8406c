// Table tests of the Modbus value decoders with known byte patterns (all word/byte orders).
import { describe, expect, it } from 'vitest';
import { modbusTagSchema } from '../../../protocols/modbus/config.js';
import { KIND, badNumberReason, codecOf, dataBytes, decodeRaw, decodeValue, makeCodec } from '../../../protocols/modbus/decode.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
type Order = ['big' | 'little', 'big' | 'little'];
const ORDERS: Record<string, Order> = { ABCD: ['big', 'big'], BADC: ['big', 'little'], CDAB: ['little', 'big'], DCBA: ['little', 'little'] };

describe('16-bit registers', () => {
  const cases: [string, string, number, 'big' | 'little', number][] = [
    ['uint16 big', '1234', KIND.UINT16, 'big', 0x1234],
    ['uint16 byte-swapped', '3412', KIND.UINT16, 'little', 0x1234],
    ['uint16 max', 'ffff', KIND.UINT16, 'big', 65535],
    ['int16 -1', 'ffff', KIND.INT16, 'big', -1],
    ['int16 min', '8000', KIND.INT16, 'big', -32768],
    ['int16 max', '7fff', KIND.INT16, 'big', 32767],
    ['int16 -2 byte-swapped', 'feff', KIND.INT16, 'little', -2],
    ['int16 zero', '0000', KIND.INT16, 'big', 0],
  ];
  for (const [name, bytes, kind, byteOrder, want] of cases) {
    it(name, () => {
      expect(decodeRaw(hex(bytes), 0, 0, makeCodec(kind, 'big', byteOrder))).toBe(want);
    });
  }
});

describe('32-bit values in all four word/byte orders', () => {
  // 0x12345678 and float 123.456 (0x42F6E979) and int -2 (0xFFFFFFFE) as devices send them.
  const wire: Record<string, Record<string, string>> = {
    uint32: { ABCD: '12345678', BADC: '34127856', CDAB: '56781234', DCBA: '78563412' },
    float32: { ABCD: '42f6e979', BADC: 'f64279e9', CDAB: 'e97942f6', DCBA: '79e9f642' },
    int32: { ABCD: 'fffffffe', BADC: 'fffffeff', CDAB: 'fffeffff', DCBA: 'feffffff' },
  };
  const want = { uint32: 0x12345678, float32: Math.fround(123.456), int32: -2 };
  const kinds = { uint32: KIND.UINT32, float32: KIND.FLOAT32, int32: KIND.INT32 };
  for (const type of ['uint32', 'int32', 'float32'] as const) {
    for (const [order, [word, byte]] of Object.entries(ORDERS)) {
      it(`${type} ${order} (word ${word}, byte ${byte})`, () => {
        expect(decodeRaw(hex(wire[type][order]), 0, 0, makeCodec(kinds[type], word, byte))).toBe(want[type]);
      });
    }
  }

  it('uint32 above 2^31 stays positive', () => {
    expect(decodeRaw(hex('ffffffff'), 0, 0, makeCodec(KIND.UINT32))).toBe(4294967295);
    expect(decodeRaw(hex('80000000'), 0, 0, makeCodec(KIND.INT32))).toBe(-2147483648);
  });

  it('float32 specials', () => {
    expect(decodeRaw(hex('00000000'), 0, 0, makeCodec(KIND.FLOAT32))).toBe(0);
    expect(decodeRaw(hex('bf800000'), 0, 0, makeCodec(KIND.FLOAT32))).toBe(-1);
    expect(decodeRaw(hex('7fc00000'), 0, 0, makeCodec(KIND.FLOAT32))).toBeNaN();
    expect(decodeRaw(hex('7f800000'), 0, 0, makeCodec(KIND.FLOAT32))).toBe(Infinity);
    expect(decodeRaw(hex('ff800000'), 0, 0, makeCodec(KIND.FLOAT32))).toBe(-Infinity);
    // NaN in little word order is still NaN.
    expect(decodeRaw(hex('00007fc0'), 0, 0, makeCodec(KIND.FLOAT32, 'little'))).toBeNaN();
  });
});

describe('bits', () => {
  it('coil and discrete input bits, least significant bit first', () => {
    const data = hex('05 80'); // bits 0 and 2 of byte 0, bit 7 of byte 1
    const got = Array.from({ length: 16 }, (_, i) => decodeRaw(data, 0, i, makeCodec(KIND.BIT)));
    expect(got.map((b) => (b ? 1 : 0)).join('')).toBe('1010000000000001');
  });

  it('register bits', () => {
    const codec = makeCodec(KIND.REG_BIT);
    expect(decodeRaw(hex('8001'), 0, 0, codec, 0)).toBe(true);
    expect(decodeRaw(hex('8001'), 0, 0, codec, 1)).toBe(false);
    expect(decodeRaw(hex('8001'), 0, 0, codec, 15)).toBe(true);
    expect(decodeRaw(hex('0180'), 0, 0, makeCodec(KIND.REG_BIT, 'big', 'little'), 15)).toBe(true);
  });
});

describe('positions, scale and offset', () => {
  it('decodes at an offset into a response PDU and at a register index', () => {
    // fc 3, byte count 6, registers 0x0001 0x0002 0x0003
    const pdu = hex('03 06 0001 0002 0003');
    expect(decodeRaw(pdu, 2, 2, makeCodec(KIND.UINT16))).toBe(3);
    expect(decodeRaw(pdu, 2, 1, makeCodec(KIND.UINT32))).toBe(0x00020003);
  });

  it('applies value = raw * scale + offset to numbers only', () => {
    expect(decodeValue(hex('03e8'), 0, 0, makeCodec(KIND.UINT16), 0, 0.1, -5)).toBeCloseTo(95, 10);
    expect(decodeValue(hex('fffe'), 0, 0, makeCodec(KIND.INT16), 0, 2, 1)).toBe(-3);
    expect(decodeValue(hex('01'), 0, 0, makeCodec(KIND.BIT), 0, 10, 5)).toBe(true);
  });

  it('names why a float is unusable', () => {
    expect(badNumberReason(1.5)).toBeUndefined();
    expect(badNumberReason(NaN)).toMatch(/NaN/);
    expect(badNumberReason(Infinity)).toMatch(/\+Infinity/);
    expect(badNumberReason(-Infinity)).toMatch(/-Infinity/);
  });

  it('knows the data byte count of a read', () => {
    expect(dataBytes(1, 1)).toBe(1);
    expect(dataBytes(2, 8)).toBe(1);
    expect(dataBytes(2, 9)).toBe(2);
    expect(dataBytes(1, 2000)).toBe(250);
    expect(dataBytes(3, 125)).toBe(250);
  });
});

describe('codecOf', () => {
  const tag = (o: object) => modbusTagSchema.parse({ name: 'x', address: 0, ...o });
  it('picks the codec from area, type, bit and orders', () => {
    expect(codecOf(tag({ area: 'coil' }))).toBe(makeCodec(KIND.BIT));
    expect(codecOf(tag({ area: 'discrete_input' }))).toBe(makeCodec(KIND.BIT));
    expect(codecOf(tag({ area: 'holding_register' }))).toBe(makeCodec(KIND.UINT16));
    expect(codecOf(tag({ area: 'holding_register', bit: 3 }))).toBe(makeCodec(KIND.REG_BIT));
    expect(codecOf(tag({ area: 'input_register', type: 'int16', byte_order: 'little' }))).toBe(makeCodec(KIND.INT16, 'big', 'little'));
    expect(codecOf(tag({ area: 'input_register', type: 'float32', word_order: 'little', byte_order: 'little' }))).toBe(
      makeCodec(KIND.FLOAT32, 'little', 'little'),
    );
  });
});
