// FC08 counters counted as a serial-line PLC does: every frame on the bus, frames for this unit,
// exceptions, no-response, CRC errors, overruns; listen-only mode and restart.
import { afterEach, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { mbap, rtu, rtuCall, tcpCall, u16, Wire } from './helpers.js';

let sim: ModbusSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function start(framing: 'tcp' | 'rtu_over_tcp') {
  sim = await startModbusSimulator(tankSimulatorConfig({ framing, tick_ms: 60000 }));
  const plc = sim.plc('tank-plc-1');
  plc.counters.clear();
  return { plc, w: await Wire.connect(sim.plcs[0].port) };
}

describe('FC08 counters', () => {
  it('count bus, server, exception and no-response messages (Modbus TCP)', async () => {
    const { plc, w } = await start('tcp');
    for (let i = 0; i < 3; i++) await tcpCall(w, 1, [3, ...u16(0, 2)]);
    w.send(mbap(1, 7, [3, ...u16(0, 2)]));
    w.send(mbap(2, 9, [4, ...u16(0, 2)]));
    expect([...(await tcpCall(w, 1, [3, ...u16(0, 200)]))]).toEqual([0x83, 3]);
    w.send(mbap(3, 0, [6, ...u16(1, 40)]));
    expect((await w.drain(50)).length).toBe(0);
    expect(plc.counters.snapshot()).toMatchObject({ busMessages: 7, serverMessages: 5, exceptions: 1, noResponse: 1, busCommErrors: 0 });
    // Reading a counter counts the read itself first.
    const bus = await tcpCall(w, 1, [8, ...u16(0x0b, 0)]);
    expect(bus.readUInt16BE(3)).toBe(8);
    w.close();
  });

  it('count CRC errors and other units on RTU over TCP', async () => {
    const { plc, w } = await start('rtu_over_tcp');
    const bad = rtu(1, [3, ...u16(0, 1)]);
    bad[bad.length - 1] ^= 0x55;
    w.send(Buffer.concat([bad, rtu(2, [3, ...u16(0, 1)]), rtu(3, [1, ...u16(0, 1)])]));
    await w.drain(50);
    await rtuCall(w, 1, [3, ...u16(0, 1)]);
    expect(plc.counters.snapshot()).toMatchObject({ busCommErrors: 1, busMessages: 3, serverMessages: 1 });
    const errs = await rtuCall(w, 1, [8, ...u16(0x0c, 0)]);
    expect(errs.readUInt16BE(3)).toBe(1);
    w.close();
  });

  it('count an over-long MBAP frame as a character overrun', async () => {
    const { plc, w } = await start('tcp');
    const h = Buffer.from([0, 1, 0, 0, 0x01, 0x10, 1, 3]);
    w.send(h);
    await w.drain(50);
    expect(plc.counters.overruns).toBe(1);
    expect((await tcpCall(w, 1, [8, ...u16(0x12, 0)])).readUInt16BE(3)).toBe(1);
    w.close();
  });

  it('wrap at 16 bits', async () => {
    const { plc, w } = await start('tcp');
    plc.counters.busMessages = 65535;
    expect((await tcpCall(w, 1, [8, ...u16(0x0b, 0)])).readUInt16BE(3)).toBe(0);
    w.close();
  });

  it('listen-only mode (0x04) silences the PLC until a restart (0x01), which clears the counters', async () => {
    const { plc, w } = await start('tcp');
    await tcpCall(w, 1, [3, ...u16(0, 1)]);
    w.send(mbap(1, 1, [8, ...u16(0x04, 0)]));
    w.send(mbap(2, 1, [3, ...u16(0, 1)]));
    expect((await w.drain(80)).length).toBe(0);
    expect(plc.listenOnly).toBe(true);
    expect(plc.counters.noResponse).toBe(2);
    w.send(mbap(3, 1, [8, ...u16(0x01, 0)]));
    expect((await w.drain(80)).length).toBe(0);
    expect(plc.listenOnly).toBe(false);
    expect(plc.counters.busMessages).toBe(0);
    // A restart outside listen-only mode is echoed.
    expect([...(await tcpCall(w, 1, [8, ...u16(0x01, 0xff00)]))]).toEqual([8, ...u16(0x01, 0xff00)]);
    w.close();
  });
});
