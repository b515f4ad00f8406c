// Every function code the simulator answers, with its exceptions, over Modbus TCP and RTU over TCP,
// byte-exact through a raw socket; unit id handling; FC43 stream access with "more follows".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import type { Framing } from '../../simulators/modbus/framing.js';
import { float32, mbap, rtu, rtuCall, tcpCall, u16, Wire } from './helpers.js';

function parseDeviceId(pdu: Buffer) {
  const objects: Record<number, string> = {};
  let p = 7;
  for (let i = 0; i < pdu[6]; i++) {
    objects[pdu[p]] = pdu.subarray(p + 2, p + 2 + pdu[p + 1]).toString('latin1');
    p += 2 + pdu[p + 1];
  }
  return { code: pdu[2], conformity: pdu[3], more: pdu[4], next: pdu[5], count: pdu[6], objects, length: pdu.length };
}

describe.each(['tcp', 'rtu_over_tcp'] as Framing[])('function codes over %s', (framing) => {
  let sim: ModbusSimulator;
  let w: Wire;
  const call = (pdu: number[], unit = 1) => (framing === 'tcp' ? tcpCall(w, unit, pdu) : rtuCall(w, unit, pdu));
  const send = (pdu: number[], unit: number) => w.send(framing === 'tcp' ? mbap(99, unit, pdu) : rtu(unit, pdu));

  beforeAll(async () => {
    const cfg = tankSimulatorConfig({ framing, tick_ms: 60000 });
    cfg.plcs[0].identity = { user_application_name: 'A'.repeat(200), product_name: 'P'.repeat(100) };
    sim = await startModbusSimulator(cfg);
    w = await Wire.connect(sim.plcs[0].port);
  });
  afterAll(async () => {
    w.close();
    await sim.stop();
  });

  it('FC03/FC04 read registers: setpoints and measurements', async () => {
    const hr = await call([3, ...u16(0, 20)]);
    expect([hr[0], hr[1]]).toEqual([3, 40]);
    const words = Array.from({ length: 20 }, (_, i) => hr.readUInt16BE(2 + 2 * i));
    expect(words[0]).toBe(1); // mode auto
    expect(float32(words.slice(2, 4))).toBeCloseTo(3.5, 5);
    expect(float32(words.slice(4, 6))).toBeCloseTo(1.5, 5);
    const ir = await call([4, ...u16(0, 2)]);
    expect(float32([ir.readUInt16BE(2), ir.readUInt16BE(4)])).toBeCloseTo(sim.plc('tank-plc-1').readTag('level'), 5);
  });

  it('FC01/FC02 read bits, packed LSB first', async () => {
    const plc = sim.plc('tank-plc-1');
    plc.writeTag('pump_cmd', 1);
    plc.writeTag('alarm_horn', 0);
    plc.image.coils[2] = 1;
    expect([...(await call([1, ...u16(0, 3)]))]).toEqual([1, 1, 0b101]);
    plc.image.coils[2] = 0;
    plc.writeTag('pump_running', 0);
    plc.writeTag('level_low_alarm', 1);
    expect([...(await call([2, ...u16(0, 8)]))]).toEqual([2, 1, 0b100]);
    plc.writeTag('level_low_alarm', 0);
  });

  it('FC06/FC05/FC15/FC16 writes echo and change the image', async () => {
    const plc = sim.plc('tank-plc-1');
    expect([...(await call([6, ...u16(0, 0)]))]).toEqual([6, ...u16(0, 0)]);
    expect(plc.readTag('mode')).toBe(0);
    expect([...(await call([5, ...u16(0, 0x0000)]))]).toEqual([5, 0, 0, 0, 0]);
    expect(plc.readTag('pump_cmd')).toBe(0);
    expect([...(await call([15, ...u16(0, 2), 1, 0b11]))]).toEqual([15, ...u16(0, 2)]);
    expect(plc.readTag('alarm_horn')).toBe(1);
    const f = Buffer.alloc(4);
    f.writeFloatBE(3.75);
    expect([...(await call([16, ...u16(2, 2), 4, ...f]))]).toEqual([16, ...u16(2, 2)]);
    expect(plc.readTag('level_high_sp')).toBeCloseTo(3.75, 5);
    await call([6, ...u16(0, 1)]);
  });

  it('exceptions: 01 illegal function, 02 illegal address, 03 illegal value', async () => {
    const ex = async (pdu: number[]) => [...(await call(pdu))];
    expect(await ex([0x11])).toEqual([0x91, 1]);
    expect(await ex([0x16, ...u16(0, 0xffff, 0)])).toEqual([0x96, 1]);
    expect(await ex([3, ...u16(0, 126)])).toEqual([0x83, 3]);
    expect(await ex([3, ...u16(0, 0)])).toEqual([0x83, 3]);
    expect(await ex([1, ...u16(0, 2001)])).toEqual([0x81, 3]);
    expect(await ex([2, ...u16(0, 2000)])).toEqual([0x82, 2]);
    expect(await ex([3, ...u16(19, 2)])).toEqual([0x83, 2]);
    expect(await ex([4, ...u16(1000, 1)])).toEqual([0x84, 2]);
    expect(await ex([5, ...u16(0, 0x1234)])).toEqual([0x85, 3]);
    expect(await ex([5, ...u16(500, 0xff00)])).toEqual([0x85, 2]);
    expect(await ex([6, ...u16(0, 7)])).toEqual([0x86, 3]); // mode 7 is refused by the PLC program
    expect(await ex([6, ...u16(1, 150)])).toEqual([0x86, 3]); // valve 150 %
    expect(await ex([6, ...u16(300, 1)])).toEqual([0x86, 2]);
    expect(await ex([15, ...u16(0, 9), 1, 0xff])).toEqual([0x8f, 3]); // byte count says 1, 9 coils need 2
    expect(await ex([16, ...u16(0, 124), 0])).toEqual([0x90, 3]); // more than 123 registers
    expect(await ex([16, ...u16(0, 0), 0])).toEqual([0x90, 3]);
    expect(await ex([16, ...u16(19, 2), 4, 0, 0, 0, 0])).toEqual([0x90, 2]);
    expect(sim.plc('tank-plc-1').readTag('mode')).toBe(1);
  });

  it('FC08 diagnostics: echo, every counter, clear, unsupported sub-function', async () => {
    expect([...(await call([8, ...u16(0, 0xabcd)]))]).toEqual([8, ...u16(0, 0xabcd)]);
    const plc = sim.plc('tank-plc-1');
    plc.counters.busCommErrors = 3;
    plc.counters.overruns = 2;
    const counter = async (sub: number) => {
      const r = await call([8, ...u16(sub, 0)]);
      expect(r.readUInt16BE(1)).toBe(sub);
      return r.readUInt16BE(3);
    };
    const bus = await counter(0x0b);
    expect(bus).toBe(plc.counters.busMessages);
    expect(await counter(0x0c)).toBe(3);
    expect(await counter(0x0d)).toBe(plc.counters.exceptions);
    expect(await counter(0x0e)).toBe(plc.counters.serverMessages);
    expect(await counter(0x0f)).toBe(plc.counters.noResponse);
    expect(await counter(0x10)).toBe(0);
    expect(await counter(0x11)).toBe(0);
    expect(await counter(0x12)).toBe(2);
    expect([...(await call([8, ...u16(0x03, 0)]))]).toEqual([0x88, 1]);
    expect([...(await call([8, ...u16(0x0b, 1)]))]).toEqual([0x88, 3]);
    expect([...(await call([8, ...u16(0x0a, 0)]))]).toEqual([8, ...u16(0x0a, 0)]);
    expect(await counter(0x0b)).toBe(1); // the read itself, after the clear
    expect(await counter(0x0c)).toBe(0);
  });

  it('FC43 basic, regular, individual access; errors', async () => {
    const basic = parseDeviceId(await call([0x2b, 0x0e, 1, 0]));
    expect(basic).toMatchObject({ code: 1, conformity: 0x82, more: 0, count: 3, objects: { 0: 'otsentry simulators', 1: 'OTS-TANK-1', 2: '2.4.1' } });
    const one = parseDeviceId(await call([0x2b, 0x0e, 4, 5]));
    expect(one).toMatchObject({ code: 4, more: 0, count: 1, objects: { 5: 'TP-100' } });
    expect([...(await call([0x2b, 0x0e, 4, 0x55]))]).toEqual([0xab, 2]);
    expect([...(await call([0x2b, 0x0e, 5, 0]))]).toEqual([0xab, 3]);
    expect([...(await call([0x2b, 0x0d, 1, 0]))]).toEqual([0xab, 1]);
    // a start object outside the category restarts the stream at object 0
    expect(parseDeviceId(await call([0x2b, 0x0e, 1, 0x42])).objects[0]).toBe('otsentry simulators');
  });

  it('FC43 regular stream splits with "more follows" and continues at the next object', async () => {
    const first = parseDeviceId(await call([0x2b, 0x0e, 2, 0]));
    expect(first.more).toBe(0xff);
    expect(first.length).toBeLessThanOrEqual(253);
    expect(Object.keys(first.objects).map(Number)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(first.next).toBe(6);
    const rest = parseDeviceId(await call([0x2b, 0x0e, 2, first.next]));
    expect(rest).toMatchObject({ more: 0, count: 1, objects: { 6: 'A'.repeat(200) } });
    const extended = parseDeviceId(await call([0x2b, 0x0e, 3, 6]));
    expect(extended.objects[6]).toHaveLength(200);
  });

  it('answers only its own unit id; broadcast writes are applied without a reply', async () => {
    const plc = sim.plc('tank-plc-1');
    const before = plc.counters.snapshot();
    send([3, ...u16(0, 1)], 5);
    send([6, ...u16(1, 33)], 0);
    send([3, ...u16(0, 1)], 0);
    expect((await w.drain(100)).length).toBe(0);
    expect(plc.readTag('valve_position')).toBe(33);
    const after = plc.counters.snapshot();
    expect(after.busMessages - before.busMessages).toBe(3);
    expect(after.serverMessages - before.serverMessages).toBe(2);
    expect(after.noResponse - before.noResponse).toBe(2);
    expect((await call([3, ...u16(1, 1)])).readUInt16BE(2)).toBe(33);
  });
});
