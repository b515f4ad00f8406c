// Each attack scenario's observable effect, read through a real Modbus client (modbus-serial over
// Modbus TCP, and RTU over TCP where framing matters), and the normal state after it ends.
import { afterEach, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, benchSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { TankModel } from '../../simulators/modbus/models/tank.js';
import { client, closeClient, float32, mbap, rtu, sleep, tcpCall, u16, Wire, type ModbusClient } from './helpers.js';

let sim: ModbusSimulator | undefined;
const clients: ModbusClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map(closeClient));
  await sim?.stop();
  sim = undefined;
});

/** A tank simulator whose clock the test drives (tick_ms is a minute), and a client. */
async function setup(framing: 'tcp' | 'rtu_over_tcp' = 'tcp', tick_ms = 60000) {
  sim = await startModbusSimulator(tankSimulatorConfig({ framing, tick_ms }));
  const plc = sim.plc('tank-plc-1');
  const c = await client(sim.plcs[0].port, framing);
  clients.push(c);
  const f32 = async (area: 'hr' | 'ir', address: number) => {
    const r = area === 'hr' ? await c.readHoldingRegisters(address, 2) : await c.readInputRegisters(address, 2);
    return float32(r.data);
  };
  return { plc, c, f32 };
}

describe('scenarios', () => {
  it('setpoint-tamper rewrites the high setpoint and the PID gain with FC16, then restores them', async () => {
    const { c, f32, plc } = await setup();
    const server = plc.counters.serverMessages;
    const run = await sim!.startScenario('setpoint-tamper', 'tank-plc-1');
    expect(await f32('hr', 2)).toBeCloseTo(4.8, 5);
    expect(await f32('hr', 8)).toBeCloseTo(20, 5);
    expect(plc.counters.serverMessages - server).toBeGreaterThanOrEqual(2);
    await run.stop();
    expect(await f32('hr', 2)).toBeCloseTo(3.5, 5);
    expect(await f32('hr', 8)).toBeCloseTo(4, 5);
    expect((await c.readHoldingRegisters(0, 1)).data[0]).toBe(1);
  });

  it('firmware-swap changes the FC43 revision, product code and firmware register, then restores them', async () => {
    const { c, plc } = await setup();
    expect((await c.readDeviceIdentification(1, 0)).data).toMatchObject({ 1: 'OTS-TANK-1', 2: '2.4.1' });
    await sim!.startScenario('firmware-swap', 'tank-plc-1', { revision: '3.0.1', product_code: 'OTS-TANK-1X' });
    expect((await c.readDeviceIdentification(1, 0)).data).toMatchObject({ 1: 'OTS-TANK-1X', 2: '3.0.1' });
    expect((await c.readInputRegisters(13, 1)).data[0]).toBe(301);
    expect(await sim!.stopScenario('firmware-swap', 'tank-plc-1')).toBe(1);
    expect((await c.readDeviceIdentification(2, 0)).data).toMatchObject({ 1: 'OTS-TANK-1', 2: '2.4.1', 5: 'TP-100' });
    expect(plc.readTag('firmware_version')).toBe(241);
  });

  it('sensor-spoof reports the level out of range and jumping, then the true level again', async () => {
    const { f32, plc } = await setup('rtu_over_tcp');
    const tank = plc.model as TankModel;
    await sim!.startScenario('sensor-spoof', 'tank-plc-1', { period_ms: 1000 });
    const seen: number[] = [];
    const mm: number[] = [];
    for (let i = 0; i < 4; i++) {
      plc.step(100);
      seen.push(await f32('ir', 0));
      mm.push((await clients[0].readInputRegisters(9, 1)).data[0]);
      plc.step(900);
    }
    expect(seen[0]).toBeGreaterThan(5); // above the tank height
    expect(Math.abs(seen[1] - tank.level)).toBeGreaterThan(1); // a jump
    expect(seen[2]).toBeLessThan(0);
    expect(mm[0]).toBeGreaterThan(5000); // level_mm follows the spoofed level
    expect(mm[2]).toBe(0);
    await sim!.stopScenario('sensor-spoof', 'tank-plc-1');
    plc.step(100);
    expect(Math.abs((await f32('ir', 0)) - tank.level)).toBeLessThan(0.02);
  });

  it('sensor-freeze holds level and flow while the plant moves on', async () => {
    const { f32, plc } = await setup();
    const tank = plc.model as TankModel;
    plc.step(100);
    const level0 = await f32('ir', 0);
    const flow0 = await f32('ir', 2);
    const true0 = tank.level;
    await sim!.startScenario('sensor-freeze', 'tank-plc-1');
    for (let i = 0; i < 30; i++) {
      plc.step(1000);
      expect(await f32('ir', 0)).toBe(level0);
      expect(await f32('ir', 2)).toBe(flow0);
    }
    expect(Math.abs(tank.level - true0)).toBeGreaterThan(0.05);
    expect(await f32('ir', 4)).not.toBe(await (plc.step(100), f32('ir', 4)));
    await sim!.stopScenario('sensor-freeze', 'tank-plc-1');
    plc.step(100);
    expect(await f32('ir', 0)).not.toBe(level0);
  });

  it('pump-toggle forces the pump against the controller, with no-flow and flow-without-pump phases', async () => {
    const { c, f32, plc } = await setup('tcp', 20);
    await sim!.startScenario('pump-toggle', 'tank-plc-1', { toggle_ms: 60 });
    const states = new Set<string>();
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      const running = (await c.readDiscreteInputs(0, 1)).data[0];
      const flow = await f32('ir', 2);
      states.add(`${running ? 'on' : 'off'}/${flow > 2 ? 'flow' : 'noflow'}`);
      await sleep(10);
    }
    expect([...states].sort()).toEqual(['off/flow', 'off/noflow', 'on/flow', 'on/noflow']);
    await sim!.stopScenario('pump-toggle', 'tank-plc-1');
    expect((plc.model as TankModel).forcedPump).toBeNull();
    await sleep(60);
    const running = (await c.readDiscreteInputs(0, 1)).data[0];
    expect((await f32('ir', 2)) > 2).toBe(running);
  });

  it('plc-offline drops connections, refuses new ones, and listens again on the same port', async () => {
    const { plc } = await setup();
    const port = sim!.plcs[0].port;
    const w = await Wire.connect(port);
    await sim!.startScenario('plc-offline', 'tank-plc-1', {});
    await sleep(20);
    expect(w.closed).toBe(true);
    await expect(Wire.connect(port)).rejects.toThrow(/ECONNREFUSED/);
    await sim!.stopScenario('plc-offline', 'tank-plc-1');
    expect(plc.port).toBe(port);
    const w2 = await Wire.connect(port);
    expect((await tcpCall(w2, 1, [3, ...u16(0, 1)]))[0]).toBe(3);
    w2.close();
  });

  it('slow-plc delays every response, then answers fast again', async () => {
    const { c } = await setup();
    const rtt = async () => {
      const t = Date.now();
      await c.readHoldingRegisters(0, 1);
      return Date.now() - t;
    };
    expect(await rtt()).toBeLessThan(100);
    await sim!.startScenario('slow-plc', 'tank-plc-1', { delay_ms: 300 });
    expect(await rtt()).toBeGreaterThanOrEqual(290);
    await sim!.stopScenario('slow-plc', 'tank-plc-1');
    expect(await rtt()).toBeLessThan(100);
  });

  it('foreign-master grows the bus and server message counters by about rate_per_s', async () => {
    const { plc } = await setup('rtu_over_tcp');
    const w = await Wire.connect(sim!.plcs[0].port);
    const counter = async (sub: number) => {
      w.send(rtu(1, [8, ...u16(sub, 0)]));
      return (await w.read(8)).readUInt16BE(4);
    };
    await sim!.startScenario('foreign-master', 'tank-plc-1', { rate_per_s: 100 });
    const bus0 = await counter(0x0b);
    const srv0 = await counter(0x0e);
    await sleep(1000);
    const bus1 = await counter(0x0b);
    const srv1 = await counter(0x0e);
    // two of the increments are our own counter reads
    expect(bus1 - bus0 - 2).toBeGreaterThanOrEqual(70);
    expect(srv1 - srv0 - 2).toBeGreaterThanOrEqual(70);
    await sim!.stopScenario('foreign-master', 'tank-plc-1');
    const bus2 = await counter(0x0b);
    await sleep(300);
    expect((await counter(0x0b)) - bus2).toBe(1);
    expect(plc.counters.busCommErrors).toBe(0);
    w.close();
  });

  it('malformed corrupts responses in each way and raises the bus communication error counter', async () => {
    const { plc } = await setup();
    const w = await Wire.connect(sim!.plcs[0].port);
    const req = mbap(0x0102, 1, [3, ...u16(0, 2)]);
    const good = await tcpCall(w, 1, [3, ...u16(0, 2)], 0x0102);
    const errors0 = plc.counters.busCommErrors;
    const seenKinds = new Set<string>();
    for (const kind of ['wrong_length', 'bad_transaction_id', 'truncated', 'garbage']) {
      const run = await sim!.startScenario('malformed', 'tank-plc-1', { share: 1, kinds: [kind] });
      w.send(req);
      const got = await w.drain(60);
      await run.stop();
      if (kind === 'wrong_length') expect(got.readUInt16BE(4)).not.toBe(got.length - 6);
      if (kind === 'bad_transaction_id') expect(got.readUInt16BE(0)).not.toBe(0x0102);
      if (kind === 'truncated') expect(got.length).toBeLessThan(7 + good.length);
      if (kind === 'garbage') expect(got.equals(Buffer.concat([req.subarray(0, 7), good]))).toBe(false);
      seenKinds.add(kind);
    }
    expect(plc.counters.busCommErrors - errors0).toBe(4);
    w.close();

    // A share of 0.5 through a real client: some reads fail, some succeed.
    await sim!.startScenario('malformed', 'tank-plc-1', { share: 0.5 });
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < 20; i++) {
      const c = await client(sim!.plcs[0].port);
      c.setTimeout(150);
      try {
        await c.readHoldingRegisters(0, 2);
        ok++;
      } catch {
        failed++;
      }
      await closeClient(c);
    }
    expect(ok).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);
  });

  it('malformed over RTU corrupts the CRC-protected frame too', async () => {
    await setup('rtu_over_tcp');
    const w = await Wire.connect(sim!.plcs[0].port);
    await sim!.startScenario('malformed', 'tank-plc-1', { share: 1, kinds: ['bad_transaction_id'] });
    w.send(rtu(1, [3, ...u16(0, 1)]));
    const got = await w.read(7);
    expect(got[0]).toBe(2); // answered as another unit
    w.close();
  });

  it('refuses wrong params and scenarios that do not fit the model, naming the fix', async () => {
    await setup();
    await expect(sim!.startScenario('malformed', 'tank-plc-1', { share: 2 })).rejects.toThrow(/params\.share/);
    await expect(sim!.startScenario('nope', 'tank-plc-1')).rejects.toThrow(/known: setpoint-tamper/);
    await sim!.stop();
    sim = await startModbusSimulator(benchSimulatorConfig({ plcs: 1 }));
    await expect(sim.startScenario('pump-toggle', 'bench-plc-1')).rejects.toThrow(/needs a tank PLC/);
    await expect(sim.startScenario('setpoint-tamper', 'bench-plc-1')).rejects.toThrow(/give params.writes/);
  });

  it('runs the config timeline: start at `at`, stop after `duration`', async () => {
    sim = await startModbusSimulator(tankSimulatorConfig({ scenarios: [{ name: 'firmware-swap', plc: 'tank-plc-1', at: '200ms', duration: 0.3 }] }));
    const plc = sim.plc('tank-plc-1');
    expect(plc.identity.revision).toBe('2.4.1');
    await sleep(350);
    expect(plc.identity.revision).toBe('2.5.0-unsigned');
    await sim.timeline.done;
    expect(plc.identity.revision).toBe('2.4.1');
  });

  it('stop() cancels the timeline and undoes active scenarios', async () => {
    sim = await startModbusSimulator(
      tankSimulatorConfig({
        scenarios: [
          { name: 'slow-plc', plc: 'tank-plc-1', at: 0 },
          { name: 'firmware-swap', plc: 'tank-plc-1', at: '1h' },
        ],
      }),
    );
    await sleep(50);
    expect(sim.activeScenarios().map((r) => r.name)).toEqual(['slow-plc']);
    expect(sim.plc('tank-plc-1').responseDelayMs()).toBe(200);
    await sim.stop();
    await sim.timeline.done;
    expect(sim.plc('tank-plc-1').responseDelayMs()).toBe(0);
    expect(sim.activeScenarios()).toEqual([]);
    sim = undefined;
  });
});
