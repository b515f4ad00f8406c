// Request framing: Modbus TCP and RTU over TCP deframers with split, merged and broken input, and the
// same over a real socket.
import { afterEach, describe, expect, it } from 'vitest';
import { createDeframer, encodeAdu, type FrameErrorKind, type Framing } from '../../simulators/modbus/framing.js';
import type { ModbusSimulator } from '../../simulators/modbus/index.js';
import { mbap, rtu, startSim, u16, Wire, tcpCall, rtuCall } from './helpers.js';
import { tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { crc16, crcMatches } from '../../simulators/modbus/crc.js';

function collect(framing: Framing) {
  const frames: Array<{ unit: number; pdu: number[]; tid: number }> = [];
  const errors: FrameErrorKind[] = [];
  const d = createDeframer(framing, { frame: (unit, pdu, tid) => frames.push({ unit, pdu: [...pdu], tid }), error: (k) => errors.push(k) });
  return { d, frames, errors };
}

const READ = [3, ...u16(0, 10)];
const WRITE16 = [16, ...u16(2, 2), 4, ...u16(0x4060, 0)];

describe('crc16', () => {
  it('matches the Modbus reference vector', () => {
    // 01 03 00 00 00 0A -> CRC C5 CD (low byte first on the wire)
    const crc = crc16(Buffer.from([1, 3, 0, 0, 0, 10]));
    expect([crc & 0xff, crc >>> 8]).toEqual([0xc5, 0xcd]);
  });
});

describe('MBAP deframer', () => {
  const stream = Buffer.concat([mbap(1, 1, READ), mbap(2, 9, WRITE16), mbap(3, 1, [8, 0, 0, 0x12, 0x34])]);

  it('parses frames split at every byte boundary', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const { d, frames, errors } = collect('tcp');
      d.push(stream.subarray(0, cut));
      d.push(stream.subarray(cut));
      expect(frames.map((f) => f.tid)).toEqual([1, 2, 3]);
      expect(frames[1]).toEqual({ unit: 9, pdu: WRITE16, tid: 2 });
      expect(errors).toEqual([]);
      expect(d.pending()).toBe(0);
    }
  });

  it('parses a stream fed one byte at a time', () => {
    const { d, frames } = collect('tcp');
    for (const b of stream) d.push(Buffer.from([b]));
    expect(frames).toHaveLength(3);
  });

  it('drops a bad header and recovers on the next chunk', () => {
    const { d, frames, errors } = collect('tcp');
    d.push(Buffer.from([0, 1, 0, 9, 0, 6, 1, 3, 0, 0, 0, 1]));
    d.push(Buffer.from([0, 1, 0, 0, 0x01, 0x00, 1, 3]));
    expect(errors).toEqual(['header', 'overrun']);
    d.push(mbap(5, 1, READ));
    expect(frames.map((f) => f.tid)).toEqual([5]);
  });
});

describe('RTU deframer', () => {
  const frames3 = [rtu(1, READ), rtu(2, WRITE16), rtu(1, [8, 0, 0x0b, 0, 0]), rtu(1, [0x2b, 0x0e, 1, 0]), rtu(1, [0x11])];
  const stream = Buffer.concat(frames3);

  it('parses frames split at every byte boundary, including variable-length FC08/FC43/unknown', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const { d, frames, errors } = collect('rtu_over_tcp');
      d.push(stream.subarray(0, cut));
      d.push(stream.subarray(cut));
      expect(frames.map((f) => f.pdu[0])).toEqual([3, 16, 8, 0x2b, 0x11]);
      expect(frames[1]).toEqual({ unit: 2, pdu: WRITE16, tid: 0 });
      expect(errors).toEqual([]);
    }
  });

  it('resynchronises after garbage and counts one error per garbage run', () => {
    const { d, frames, errors } = collect('rtu_over_tcp');
    d.push(Buffer.concat([Buffer.from([0x55, 0x03, 0x99, 0x12]), rtu(1, READ), Buffer.from([1, 3, 0, 0, 0, 1, 0, 0]), rtu(1, READ)]));
    expect(frames).toHaveLength(2);
    expect(errors).toEqual(['crc', 'crc']);
  });

  it('counts an impossible byte count as an overrun, or as garbage when a valid frame follows', () => {
    const long = Buffer.from([1, 16, 0, 0, 0, 125, 250, ...new Array(20).fill(0)]);
    const a = collect('rtu_over_tcp');
    a.d.push(long);
    expect(a.errors).toEqual(['overrun']);
    expect(a.d.pending()).toBe(0);
    const b = collect('rtu_over_tcp');
    b.d.push(Buffer.concat([long.subarray(0, 9), rtu(1, READ)]));
    expect(b.errors).toEqual(['crc']);
    expect(b.frames).toHaveLength(1);
  });

  it('drops a partial frame on flush (line silence) as a framing error', () => {
    const { d, frames, errors } = collect('rtu_over_tcp');
    d.push(rtu(1, READ).subarray(0, 5));
    expect(d.pending()).toBe(5);
    d.flush();
    expect(errors).toEqual(['crc']);
    d.push(rtu(1, READ));
    expect(frames).toHaveLength(1);
  });

  it('encodes responses: RTU with a valid CRC, TCP with the MBAP header', () => {
    const adu = encodeAdu('rtu_over_tcp', 1, 0, Buffer.from([3, 2, 0, 5]));
    expect(crcMatches(adu, 0, adu.length)).toBe(true);
    expect([...adu.subarray(0, 5)]).toEqual([1, 3, 2, 0, 5]);
    expect(encodeAdu('tcp', 9, 0x1234, Buffer.from([3, 0])).toString('hex')).toBe('123400000003090300');
  });
});

describe('framing over a real socket', () => {
  let sim: ModbusSimulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  it('Modbus TCP: a request split in pieces and several requests in one write', async () => {
    sim = await startSim(tankSimulatorConfig());
    const w = await Wire.connect(sim.plcs[0].port);
    const req = mbap(1, 1, [3, ...u16(0, 2)]);
    w.send(req.subarray(0, 3));
    await new Promise((r) => setTimeout(r, 20));
    w.send(req.subarray(3));
    const r1 = await w.read(7 + 1 + 1 + 4);
    expect(r1.readUInt16BE(0)).toBe(1);
    w.send(Buffer.concat([mbap(2, 1, [3, ...u16(0, 1)]), mbap(3, 1, [4, ...u16(0, 1)]), mbap(4, 1, [1, ...u16(0, 2)])]));
    const all = await w.read(11 * 2 + 10);
    expect([all.readUInt16BE(0), all.readUInt16BE(11), all.readUInt16BE(22)]).toEqual([2, 3, 4]);
    expect(await tcpCall(w, 1, [3, ...u16(0, 1)])).toHaveLength(4);
    w.close();
  });

  it('RTU over TCP: byte-by-byte, merged, and a CRC error in between', async () => {
    sim = await startSim(tankSimulatorConfig({ framing: 'rtu_over_tcp' }));
    const w = await Wire.connect(sim.plcs[0].port);
    for (const b of rtu(1, [3, ...u16(0, 1)])) w.send([b]);
    const r = await w.read(7);
    expect([...r.subarray(0, 3)]).toEqual([1, 3, 2]);
    const bad = rtu(1, [3, ...u16(0, 1)]);
    bad[7] ^= 0xff;
    w.send(Buffer.concat([rtu(1, [4, ...u16(0, 2)]), bad, rtu(1, [3, ...u16(0, 1)])]));
    const both = await w.read(9 + 7);
    expect(both[1]).toBe(4);
    expect(both[10]).toBe(3);
    expect(sim.plc('tank-plc-1').counters.busCommErrors).toBe(1);
    expect((await rtuCall(w, 1, [3, ...u16(0, 1)]))[0]).toBe(3);
    w.close();
  });
});
