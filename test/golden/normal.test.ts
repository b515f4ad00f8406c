// Ten minutes of normal plant time raise nothing: the real tank model, the real poller (its link
// replaced by the simulator's own request handler, so no sockets), the real scheduler on a
// virtual clock, and the sample config's rules through the judge and the alert lifecycle (virtual.ts).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../agent/config/load.js';
import { silentLogger } from '../../protocols/log.js';
import { Plc } from '../../simulators/modbus/plc.js';
import { parseSimulatorConfig, tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { runVirtual, VirtualTime, type VirtualRun } from './virtual.js';

const sample = parseConfigText(fs.readFileSync(new URL('../../protocols/modbus/sample.yaml', import.meta.url), 'utf8'));
const TEN_MINUTES = 10 * 60_000;

async function normalRun(seed: number, tamper = false): Promise<VirtualRun> {
  expect(sample.problems).toEqual([]);
  const config = sample.config!;
  const device = config.devices[0];
  const plc = new Plc({ ...parseSimulatorConfig(tankSimulatorConfig({ plcs: 1, seed })).plcs[0], id: device.id }, silentLogger);
  if (tamper) plc.writeTag('level_high_sp', 4.2);
  const time = new VirtualTime(Date.UTC(2026, 0, 1), plc);
  return runVirtual(config, plc, time, time.now + TEN_MINUTES);
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
