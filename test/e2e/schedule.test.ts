// One bad device never stops the rest: a dead device (accepts, never answers), a refused port and
// a slow device poll beside a healthy one, which keeps its schedule.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modbusDeviceSchema } from '../../protocols/modbus/config.js';
import { createPoller } from '../../protocols/registry.js';
import { DeviceScheduler, type CycleOutput } from '../../agent/scheduler.js';
import { silentLogger } from '../../protocols/log.js';
import { copySample } from '../../protocols/types.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { freePort } from '../helpers/ports.js';

let sim: ModbusSimulator;
let blackhole: net.Server;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 2 }));
  blackhole = net.createServer((s) => {
    sockets.add(s); // accept and never answer: every request runs into its timeout
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackhole.close(r));
  await sim.stop();
});

function device(id: string, port: number, timeout_ms: number) {
  return modbusDeviceSchema.parse({
    id,
    protocol: 'modbus',
    transport: { type: 'tcp', host: '127.0.0.1', port },
    interval_ms: 100,
    timeout_ms,
    retries: 0,
    identity_interval_ms: 0,
    diagnostics_interval_ms: 0,
    reconnect_min_ms: 100,
    reconnect_max_ms: 400,
    degrade_after_failures: 3,
    degraded_interval_ms: 1000,
    tags: [{ name: 'level', area: 'input_register', address: 0, type: 'float32' }],
  });
}

describe('scheduler isolation', () => {
  it('keeps a healthy device on schedule beside a dead, a refused and a slow device', { timeout: 20_000 }, async () => {
    const [good, slow] = sim.plcs;
    // The slow device answers within its timeout but after its interval (the per-device schema
    // alone is used here; the full config check would refuse a timeout above the interval).
    const slowRun = await sim.startScenario('slow-plc', slow.id, { delay_ms: 150 });
    const refusedPort = await freePort();
    // The healthy device gets a generous timeout: on a loaded machine one of its answers may take
    // longer than 80 ms, which is load, not a neighbour stealing its schedule.
    const devices = [device('good', good.port, 1000), device('dead', (blackhole.address() as net.AddressInfo).port, 80), device('refused', refusedPort, 80), device('slow', slow.port, 400)];
    const cycles = new Map<string, CycleOutput[]>();
    const schedulers = devices.map((d) => {
      cycles.set(d.id, []);
      return new DeviceScheduler(createPoller(d, { logger: silentLogger }), d, (out) => cycles.get(d.id)!.push({ ...out, samples: out.samples.map(copySample) }), silentLogger); // kept past the cycle: a copy
    });
    for (const s of schedulers) s.start();
    await new Promise((r) => setTimeout(r, 3000));
    await Promise.all(schedulers.map((s) => s.stop()));
    await slowRun.stop();
    const [g, dead, refused, sl] = schedulers.map((s) => s.health);

    // healthy: about 30 cycles in 3 s, every one good; at most one slot lost to a slow answer
    // under machine load (test/faults/neighbours.test.ts measures the schedule over a longer run)
    expect(g.cycles).toBeGreaterThanOrEqual(26);
    expect(g.failed_cycles).toBe(0);
    expect(g.skipped_cycles).toBeLessThanOrEqual(1);
    expect(cycles.get('good')!.every((c) => c.samples.every((s) => s.quality === 'good'))).toBe(true);

    // dead and refused: reported unreachable, then degraded (polled less often)
    for (const h of [dead, refused]) {
      expect(h.consecutive_failures).toBeGreaterThanOrEqual(3);
      expect(h.state).toBe('stopped');
      expect(h.cycles).toBeLessThan(15);
    }
    const deadLinks = cycles.get('dead')!.flatMap((c) => c.facts.filter((f) => f.kind === 'link'));
    expect(deadLinks.every((f) => f.data.reachable === false)).toBe(true);
    expect(deadLinks.some((f) => f.data.error_code === 'timeout')).toBe(true);
    const refusedLinks = cycles.get('refused')!.flatMap((c) => c.facts.filter((f) => f.kind === 'link'));
    expect(refusedLinks.some((f) => f.data.error_code === 'connect_refused')).toBe(true);

    // slow: answers take longer than the interval; the skipped slots are counted, not queued
    expect(sl.skipped_cycles).toBeGreaterThan(0);
    expect(cycles.get('slow')!.some((c) => c.skipped_cycles > 0)).toBe(true);
  });
});
