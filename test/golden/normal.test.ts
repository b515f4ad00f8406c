// Ten minutes of normal plant time raise nothing: the real tank model, the real poller (its link
// replaced by the simulator's own request handler, so no sockets), the real scheduler on a
// virtual clock, and the sample config's rules through the judge and the alert lifecycle.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../agent/config/load.js';
import { AlertManager } from '../../rules/alerts/index.js';
import { Judge } from '../../agent/judge.js';
import { silentLogger } from '../../protocols/log.js';
import { DeviceScheduler, type Clock } from '../../agent/scheduler.js';
import type { Outbox } from '../../agent/outbox/index.js';
import type { RiskSignal, SignalDraft } from '../../rules/signal.js';
import { ModbusError } from '../../protocols/modbus/errors.js';
import { checkResponse } from '../../protocols/modbus/frame.js';
import type { ModbusLink } from '../../protocols/modbus/link.js';
import { createModbusPoller } from '../../protocols/modbus/poller.js';
import { RuleEngine } from '../../rules/index.js';
import { Plc } from '../../simulators/modbus/plc.js';
import { parseSimulatorConfig, tankSimulatorConfig } from '../../simulators/modbus/index.js';

const sample = parseConfigText(fs.readFileSync(new URL('../../protocols/modbus/sample.yaml', import.meta.url), 'utf8'));
const TEN_MINUTES = 10 * 60_000;

/** The PLC's request handler as a Modbus link: same PDUs, no network. */
function memoryLink(plc: Plc): ModbusLink {
  return {
    describe: `memory ${plc.id}`,
    isOpen: () => true,
    open: async () => undefined,
    exchange: async (pdu) => {
      const res = plc.request(pdu);
      if (res === null) throw new ModbusError('timeout', 'no answer');
      checkResponse(pdu, res);
      return res;
    },
    abort: () => undefined,
    close: async () => undefined,
  };
}

/** An outbox that only collects what the judge commits. */
function collectingOutbox(into: SignalDraft[]): Outbox {
  return {
    append: (drafts) => {
      into.push(...drafts);
      return [] as RiskSignal[];
    },
    pending: () => [],
    ack: () => undefined,
    inflight: () => undefined,
    release: () => undefined,
    refuse: () => undefined,
    refused: () => [],
    entries: () => [],
    retry: () => [],
    enforceRetention: () => undefined,
    depth: () => 0,
    stats: () => ({ depth: 0, bytes: 0, last_seq: 0, dropped: 0, refused: 0 }),
    close: () => undefined,
  };
}

async function normalRun(seed: number, tamper = false): Promise<{ signals: SignalDraft[]; cycles: number }> {
  expect(sample.problems).toEqual([]);
  const config = sample.config!;
  const device = config.devices[0];
  if (device.protocol !== 'modbus') throw new Error('the Modbus sample config must start with a Modbus device');
  const plcConfig = parseSimulatorConfig(tankSimulatorConfig({ plcs: 1, seed })).plcs[0];
  const plc = new Plc({ ...plcConfig, id: device.id }, silentLogger);
  if (tamper) plc.writeTag('level_high_sp', 4.2);
  let now = Date.UTC(2026, 0, 1);
  const end = now + TEN_MINUTES;
  const abort = new AbortController();
  const clock: Clock = {
    now: () => now,
    // Virtual time: sleeping advances the plant in its own ticks.
    sleep: async (ms) => {
      for (let left = ms; left > 0; left -= plcConfig.tick_ms) plc.step(Math.min(plcConfig.tick_ms, left));
      now += Math.max(0, ms);
    },
  };
  const signals: SignalDraft[] = [];
  const judge = new Judge(new RuleEngine(config.rules, config.devices), new AlertManager(config.alerts), collectingOutbox(signals), () => undefined, silentLogger);
  const poller = createModbusPoller(device, { link: memoryLink(plc), now: () => now });
  let scheduler: DeviceScheduler | undefined;
  const done = new Promise<void>((resolve) => {
    scheduler = new DeviceScheduler(
      poller,
      device,
      (out) => {
        judge.onCycle(out);
        if (now >= end && !abort.signal.aborted) {
          abort.abort();
          resolve();
        }
      },
      silentLogger,
      clock,
    );
  });
  scheduler!.start();
  await done;
  await scheduler!.stop();
  return { signals, cycles: judge.counters.cycles };
}

describe('a normal run of the tank plant', () => {
  it.each([1, 2, 3])('raises nothing in 10 minutes of plant time (seed %i)', async (seed) => {
    const { signals, cycles } = await normalRun(seed);
    expect(cycles).toBeGreaterThanOrEqual(590);
    expect(signals.map((s) => `${s.ts} ${s.rule} ${s.state}: ${s.message}`)).toEqual([]);
  });

  it('would show a tampered setpoint in the same harness (the check above can fail)', async () => {
    const { signals } = await normalRun(1, true);
    expect(signals.some((s) => s.rule === 'config' && s.state === 'raised' && s.category === 'integrity')).toBe(true);
  });
});
