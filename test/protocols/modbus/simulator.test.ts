// The poller against the bundled Modbus PLC simulator (simulators/modbus): tank PLC over Modbus
// TCP and RTU over TCP, identity, FC08 counters that match what the agent sent, and a short run
// of the polling benchmark.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModbusPollBench } from '../../../bench/modbus-poll.js';
import { modbusDeviceSchema, type ModbusDeviceConfig } from '../../../protocols/modbus/config.js';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import * as sim from '../../../simulators/modbus/index.js';
import * as tagsMod from '../../../simulators/modbus/tags.js';

type Simulator = Awaited<ReturnType<typeof sim.startModbusSimulator>>;

function deviceFor(id: string, port: number, framing: string, unitId: number, tags: ReturnType<typeof sim.tankTags>): ModbusDeviceConfig {
  return modbusDeviceSchema.parse({
    id,
    protocol: 'modbus',
    unit_id: unitId,
    timeout_ms: 500,
    transport: { type: framing === 'rtu_over_tcp' ? 'rtu_over_tcp' : 'tcp', host: '127.0.0.1', port },
    tags: tags.map((t) => ({
      name: t.name,
      area: t.area,
      address: t.address,
      type: t.type,
      ...(t.word_order && t.type !== 'bool' && t.type.endsWith('32') ? { word_order: t.word_order } : {}),
      ...(t.scale !== undefined ? { scale: t.scale } : {}),
    })),
  });
}

describe.each(['tcp', 'rtu_over_tcp'] as const)('tank PLC simulator, %s', (framing) => {
  let s: Simulator;
  let dev: ModbusDeviceConfig;
  beforeAll(async () => {
    s = await sim.startModbusSimulator(sim.tankSimulatorConfig({ plcs: 1, framing, tick_ms: 50 }), { timeline: false });
    const info = s.plcs[0];
    dev = deviceFor(info.id, info.port, info.framing, info.unit_id, sim.tankTags());
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('reads every tag of the register map with good quality, in one read per area', async () => {
    const p = new ModbusPoller(dev);
    try {
      const r = await p.poll();
      expect(r.errors).toEqual([]);
      expect(r.samples).toHaveLength(dev.tags.length);
      expect(r.samples.every((x) => x.quality === 'good')).toBe(true);
      expect(p.requestsPerPoll).toBe(4);
      // Setpoints and configuration do not move: they must equal the simulator's image.
      const plc = s.plc(dev.id);
      const byName = new Map(r.samples.map((x) => [x.tag, x.value]));
      for (const t of sim.tankTags().filter((x) => x.area === 'holding_register')) {
        expect(byName.get(t.name), t.name).toBeCloseTo(tagsMod.readTag(plc.image, t), 5);
      }
    } finally {
      await p.close();
    }
  });

  it('reads identity, and FC08 counters that grow exactly by the requests the agent sent', async () => {
    const p = new ModbusPoller(dev);
    try {
      const [identity] = await p.readFacts(['identity']);
      expect(identity.kind).toBe('identity');
      expect(identity.data.vendor).toBeTruthy();
      expect(identity.data.revision).toBeTruthy();
      const [d1] = await p.readFacts(['diagnostics']);
      for (let i = 0; i < 5; i++) await p.poll();
      const [d2] = await p.readFacts(['diagnostics']);
      const grew = (k: string) => (d2.data[k] as number) - (d1.data[k] as number);
      expect(grew('agent_requests_total')).toBe(5 * p.requestsPerPoll + 8);
      expect(grew('server_message_count')).toBe(grew('agent_requests_total'));
    } finally {
      await p.close();
    }
  });
});

describe('polling benchmark against bench PLCs', () => {
  it('returns plan, ceiling and sustained figures', async () => {
    const s = await sim.startModbusSimulator(sim.benchSimulatorConfig({ plcs: 2, registers: 100 }), { timeline: false });
    try {
      const devices = s.plcs.map((info) => deviceFor(info.id, info.port, info.framing, info.unit_id, sim.benchTags(100)));
      for (const d of devices) d.interval_ms = 50;
      const r = await runModbusPollBench({ devices, ceilingMs: 300, sustainedMs: 300, warmupPolls: 2 });
      expect(r.plan).toEqual({ devices: 2, tags: 200, requestsPerCycle: 2, naiveRequestsPerCycle: 200, registersPerCycle: 200, bitsPerCycle: 0 });
      expect(r.ceiling?.errors).toEqual({});
      expect(r.ceiling?.requests).toBeGreaterThan(0);
      expect(r.sustained?.errors).toEqual({});
      expect((r.sustained?.cyclesOnTime ?? 0) + (r.sustained?.cyclesLate ?? 0)).toBe(r.sustained?.polls);
    } finally {
      await s.stop();
    }
  });
});
