// A device loop that stops on an unexpected error is restarted with backoff and reported as such:
// the real scheduler with a real Modbus poller (simulator over TCP) that breaks its contract twice
// (isConnected() throws, poll() resolves to nothing), judged into a real SQLite outbox. The device
// never shows `down` nor raises `unreachable`; the restart is a signal of its own, and it clears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertManager } from '../../rules/alerts/index.js';
import { Judge } from '../../agent/judge.js';
import { LOOP_RESTART_RULE } from '../../rules/judge/index.js';
import { createLogger } from '../../protocols/log.js';
import { openOutbox } from '../../agent/outbox/index.js';
import { DeviceScheduler, type CycleOutput, type LinkState } from '../../agent/scheduler.js';
import type { RiskSignal } from '../../rules/signal.js';
import { modbusDeviceSchema } from '../../protocols/modbus/config.js';
import { createPoller } from '../../protocols/registry.js';
import type { Poller, PollResult } from '../../protocols/types.js';
import { RuleEngine } from '../../rules/engine.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { tempDir, until } from './harness.js';

let sim: ModbusSimulator;

beforeAll(async () => {
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
});

afterAll(async () => {
  await sim?.stop();
});

/** A real poller that, from the given cycles on, once each, breaks its contract. */
function breaking(inner: Poller, faults: { isConnectedThrowsAt: number; pollResolvesNothingAt: number }): Poller & { polls: number } {
  let checks = 0;
  const p = {
    polls: 0,
    device: inner.device,
    requestsPerPoll: inner.requestsPerPoll,
    connect: (signal?: AbortSignal) => inner.connect(signal),
    readFacts: (kinds: ReadonlyArray<'identity' | 'diagnostics'>, signal?: AbortSignal) => inner.readFacts(kinds, signal),
    close: () => inner.close(),
    isConnected(): boolean {
      if (++checks === faults.isConnectedThrowsAt) throw new Error('socket state unreadable');
      return inner.isConnected();
    },
    async poll(signal?: AbortSignal): Promise<PollResult> {
      const r = await inner.poll(signal);
      if (++p.polls === faults.pollResolvesNothingAt) return undefined as unknown as PollResult;
      return r;
    },
  };
  return p;
}

describe('device loop supervision', () => {
  it('restarts a loop stopped by an unexpected error with backoff, reports it, and never shows the device down', { timeout: 20_000 }, async () => {
    const plc = sim.plcs[0];
    const dev = modbusDeviceSchema.parse({
      id: plc.id,
      protocol: 'modbus',
      transport: { type: 'tcp', host: plc.host, port: plc.port },
      interval_ms: 100,
      timeout_ms: 80,
      identity_interval_ms: 0,
      diagnostics_interval_ms: 0,
      reconnect_min_ms: 100,
      reconnect_max_ms: 400,
      tags: [{ name: 'level', area: 'input_register', address: 0, type: 'float32' }],
    });
    const dir = tempDir('loop-restart');
    const outbox = openOutbox(dir, 'gw', 'lab', { max_events: 10_000, max_bytes: 10_000_000, max_age_hours: 24 });
    const engine = new RuleEngine([{ id: 'link', type: 'availability', device: plc.id, down_after_polls: 1 }], [{ id: plc.id, tags: dev.tags }]);
    const logs: Record<string, unknown>[] = [];
    const log = createLogger('info', { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
    const judge = new Judge(engine, new AlertManager({}, { devices: [plc.id] }), outbox, () => undefined, log);
    const poller = breaking(createPoller(dev, { logger: log }), { isConnectedThrowsAt: 4, pollResolvesNothingAt: 4 });
    const outs: CycleOutput[] = [];
    const states: LinkState[] = [];
    let s: DeviceScheduler | undefined = undefined;
    s = new DeviceScheduler(
      poller,
      dev,
      (out) => {
        states.push(s!.health.state);
        outs.push(out);
        judge.onCycle(out);
      },
      log,
    );
    s.start();
    // Two restarts, then good cycles again.
    const cyclesAfterRestarts = () => (s.health.loop_restarts === 2 ? outs.length - 1 - outs.findLastIndex((o) => o.loop_restart) : 0);
    await until(() => cyclesAfterRestarts() >= 10, 15_000, 'two restarts and 10 cycles after them');
    await s.stop();

    expect(states).not.toContain('down');
    expect(s.health.failed_cycles).toBe(0);
    const restarts = outs.filter((o) => o.loop_restart);
    expect(restarts.map((o) => [o.loop_restart!.restarts, o.loop_restart!.restart_in_ms, o.samples.length, o.facts.length])).toEqual([
      [1, 100, 0, 0],
      [2, 200, 0, 0], // backoff doubles: no cycle completed in between
    ]);
    expect(restarts[0].loop_restart!.error).toBe('Error: socket state unreadable');
    expect(restarts[1].loop_restart!.error).toMatch(/^TypeError: .*requests/);
    expect(s.health.last_loop_error).toBe(restarts[1].loop_restart!.error);
    // After the restarts the device is polled and judged as before.
    const after = outs.slice(outs.indexOf(restarts[1]) + 1);
    expect(after.length).toBeGreaterThanOrEqual(10);
    expect(after.every((o) => o.samples.length === 1 && o.samples[0].quality === 'good')).toBe(true);

    const signals = outbox.pending(100).map((e) => JSON.parse(e.payload) as RiskSignal);
    expect(signals.filter((x) => x.rule === 'link')).toEqual([]); // never reported unreachable
    const loop = signals.filter((x) => x.rule === LOOP_RESTART_RULE);
    expect(loop.map((x) => x.state)).toEqual(['raised', 'cleared']); // the second restart came before any cycle: a repeat
    expect(loop[0]).toMatchObject({ device: plc.id, category: 'availability', severity: 'medium', observed: 'Error: socket state unreadable' });
    expect(logs.filter((l) => l.msg === 'Device loop stopped unexpectedly; restarting it.').map((l) => l.restarts)).toEqual([1, 2]);
    outbox.close();
  });
});
