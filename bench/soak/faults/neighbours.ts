// Fault (c): one healthy PLC polled beside a dead one (accepts, never answers), a refused port, a
// slow one (answers just inside its timeout) and two that answer garbage, all by the real agent
// process. The healthy device must keep its schedule: poll cycles achieved vs the slots of the
// window, read from the agent's Prometheus metrics (a cycle whose reads all failed does not count).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { benchSimulatorConfig, startModbusSimulator } from '../../../simulators/modbus/index.js';
import { freePort, scrape, sleep, startAgent, waitMetrics, type AgentProcess, type Metrics } from './agent.js';

export interface NeighboursOptions {
  brokerUrl: string;
  dir: string;
  /** measured window after the warm-up */
  windowMs: number;
  intervalMs?: number;
  say?: (line: string) => void;
}

export interface DeviceFigures {
  cycles: number;
  failed: number;
  skipped: number;
  up: number;
  rtt_ms: number;
}

export interface NeighboursFigures {
  windowS: number;
  /** slots of the window: window / interval */
  expected: number;
  /** healthy device's answered poll cycles within the window (failed ones do not count) */
  achieved: number;
  /** achieved / expected */
  share: number;
  devices: Record<string, DeviceFigures>;
  ok: boolean;
}

export const HEALTHY = 'healthy';
const BAD = ['dead', 'refused', 'slow', 'garbage', 'malformed'] as const;

export async function runNeighbours(o: NeighboursOptions): Promise<NeighboursFigures> {
  const say = o.say ?? (() => undefined);
  const interval = o.intervalMs ?? 100;
  const sim = await startModbusSimulator(benchSimulatorConfig({ plcs: 4, registers: 20, tick_ms: 1000 }));
  const [healthy, slow, garbage, malformed] = sim.plcs;
  // Slow: 80% of its timeout. Garbage: every answer random bytes. Malformed: every answer broken
  // one way or another (wrong length, foreign transaction id, truncated, garbage).
  const timeout = Math.round(interval * 0.8);
  await sim.startScenario('slow-plc', slow.id, { delay_ms: Math.round(timeout * 0.8) });
  await sim.startScenario('malformed', garbage.id, { share: 1, kinds: ['garbage'] });
  await sim.startScenario('malformed', malformed.id, { share: 1 });
  const sockets = new Set<net.Socket>();
  const blackhole = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  const where: Record<string, number> = {
    [HEALTHY]: healthy.port,
    dead: (blackhole.address() as net.AddressInfo).port,
    refused: await freePort(),
    slow: slow.port,
    garbage: garbage.port,
    malformed: malformed.port,
  };
  const metricsPort = await freePort();
  const tags = Array.from({ length: 20 }, (_, i) => ({ name: `reg_${i}`, area: 'holding_register', address: i, type: 'uint16' }));
  const config = {
    agent: { id: 'gw-neighbours', site: 'soak', data_dir: path.join(o.dir, 'data'), log_level: 'warn', metrics_listen: `127.0.0.1:${metricsPort}` },
    broker: { url: o.brokerUrl, reconnect_min_ms: 100, reconnect_max_ms: 1000 },
    devices: Object.entries(where).map(([id, port]) => ({
      id,
      protocol: 'modbus',
      transport: { type: 'tcp', host: '127.0.0.1', port },
      interval_ms: interval,
      timeout_ms: timeout,
      // The bad ones keep being polled at full rate, never degraded: the hardest case for the rest.
      degrade_after_failures: 1_000_000,
      reconnect_min_ms: 50,
      reconnect_max_ms: 200,
      tags,
    })),
    rules: Object.keys(where).flatMap((id) => [
      { id: `${id}.link`, type: 'availability', device: id },
      { id: `${id}.answers`, type: 'exceptions', device: id },
    ]),
  };
  const file = path.join(o.dir, 'agent.yaml');
  fs.writeFileSync(file, stringify(config));
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  let agent: AgentProcess | undefined;
  try {
    agent = startAgent(file);
    await waitMetrics(agent, url);
    // Warm up: the healthy device is connected and polling.
    for (let m = await scrape(url); (m.get(`otsentry_poll_cycles_total{device="${HEALTHY}"}`) ?? 0) < 10; m = await scrape(url)) await sleep(100);
    const m0 = await scrape(url);
    const t0 = performance.now();
    await sleep(o.windowMs);
    const m1 = await scrape(url);
    const windowS = (performance.now() - t0) / 1000;
    const devices: Record<string, DeviceFigures> = {};
    for (const id of Object.keys(where)) devices[id] = figures(m0, m1, id);
    const expected = (windowS * 1000) / interval;
    const achieved = devices[HEALTHY].cycles - devices[HEALTHY].failed;
    const share = achieved / expected;
    say(`healthy device: ${achieved} answered poll cycles in ${windowS.toFixed(1)} s at ${interval} ms = ${(share * 100).toFixed(1)}% of its ${expected.toFixed(0)} slots (${devices[HEALTHY].failed} failed, ${devices[HEALTHY].skipped} skipped)`);
    for (const id of BAD) {
      const d = devices[id];
      say(`  ${id}: ${d.cycles} cycles, ${d.failed} failed, ${d.skipped} skipped, up ${d.up}, last rtt ${Number.isNaN(d.rtt_ms) ? '-' : `${d.rtt_ms} ms`}`);
    }
    const code = await agent.kill('SIGTERM');
    if (code !== 0) throw new Error(`agent exited with ${code} on SIGTERM:\n${agent.output()}`);
    return { windowS, expected, achieved, share, devices, ok: Math.abs(share - 1) <= 0.05 };
  } finally {
    await agent?.kill('SIGKILL');
    for (const s of sockets) s.destroy();
    await new Promise((r) => blackhole.close(r));
    await sim.stop();
  }
}

function figures(m0: Metrics, m1: Metrics, id: string): DeviceFigures {
  const d = (name: string) => (m1.get(`${name}{device="${id}"}`) ?? 0) - (m0.get(`${name}{device="${id}"}`) ?? 0);
  return {
    cycles: d('otsentry_poll_cycles_total'),
    failed: d('otsentry_poll_cycles_failed_total'),
    skipped: d('otsentry_poll_cycles_skipped_total'),
    up: m1.get(`otsentry_device_up{device="${id}"}`) ?? NaN,
    rtt_ms: m1.get(`otsentry_device_rtt_ms{device="${id}"}`) ?? NaN,
  };
}
