// A failing rule never blinds a device: the running agent (in process, Modbus simulator, real
// broker) with one rule made to throw on one device. That device is still polled and judged by its
// other rules, the other device by all of its own; one otsentry.rule_failed signal, one count in
// the metrics, one log line.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../agent/config/load.js';
import { createLogger } from '../../protocols/log.js';
import { runAgent, type RunningAgent } from '../../agent/runtime.js';
import { rangeType } from '../../rules/range.js';
import type { Detector } from '../../rules/types.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { collect, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/ports.js';
import { tempDir, uniqueSignals, until, writeAgentConfig } from './harness.js';

let broker: TestBroker;
let sim: ModbusSimulator;
let agent: RunningAgent;
let sub: Collector;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  // The range detector of tank-plc-1 throws on every sample (a detector bug met in the field).
  const create = rangeType.create;
  vi.spyOn(rangeType, 'create').mockImplementation((rule, ctx) => {
    const det: Detector = create(rule, ctx);
    if (rule.device !== 'tank-plc-1') return det;
    return Object.assign(Object.create(det) as Detector, {
      onSample: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'hi')");
      },
    });
  });
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 2 }));
  sub = await collect(broker.url, 'otsentry/lab/gw-e2e/events', { clientId: 'e2e-rule-failure' });
  const dir = tempDir('rule-failure');
  const rules = ['tank-plc-1', 'tank-plc-2'].flatMap((device) => [
    // both fire at once on the tank's normal values
    { id: `${device}.level`, type: 'range', device, tag: 'level', max: -1 },
    { id: `${device}.mode`, type: 'allowed_values', device, tag: 'mode', values: [99] },
  ]);
  const loaded = loadConfig(writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs, rules }));
  loaded.config.agent.metrics_listen = `127.0.0.1:${await freePort()}`;
  const logger = createLogger('info', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  agent = await runAgent(loaded, { logger });
}, 30_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await agent?.stop();
  await sub?.close();
  await sim?.stop();
  await broker?.stop();
});

describe('a rule that throws on one device', () => {
  it('is suspended there with one signal, one metric count and one log line; everything else keeps firing', { timeout: 20_000 }, async () => {
    const raised = (rule: string, device: string) => uniqueSignals(sub.messages).some((s) => s.rule === rule && s.device === device && s.state === 'raised');
    await sub.waitFor(() => raised('otsentry.rule_failed', 'tank-plc-1') && raised('tank-plc-1.mode', 'tank-plc-1') && raised('tank-plc-2.level', 'tank-plc-2') && raised('tank-plc-2.mode', 'tank-plc-2'), 15_000, 'the failure and the other rules');
    // Many more cycles of tank-plc-1 (200 ms each), each with level samples the broken rule would see.
    const cycles = agent.schedulers.get('tank-plc-1')!.health.cycles;
    await until(() => agent.schedulers.get('tank-plc-1')!.health.cycles >= cycles + 10, 10_000, '10 more cycles');

    const signals = uniqueSignals(sub.messages);
    const failed = signals.filter((s) => s.rule === 'otsentry.rule_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ device: 'tank-plc-1', category: 'availability', severity: 'high', state: 'raised', observed: "TypeError: Cannot read properties of undefined (reading 'hi')" });
    expect(failed[0].message).toMatch(/^rule tank-plc-1\.level \(range\) failed on tank-plc-1 and is suspended for this device until /);
    expect(failed[0].evidence).toMatchObject({ failed_rule: 'tank-plc-1.level', during: 'sample', failures: 1, condition: 'tank-plc-1.level' });
    expect(signals.some((s) => s.rule === 'tank-plc-1.level')).toBe(false);
    expect(agent.schedulers.get('tank-plc-1')!.health.state).toBe('up');

    const text = await (await fetch(agent.metricsUrl!)).text();
    expect(text).toMatch(/^otsentry_rule_failures_total\{device="tank-plc-1",rule="tank-plc-1\.level"\} 1$/m);
    expect(text).toMatch(/^otsentry_rules_suspended 1$/m);
    const logged = logLines.filter((l) => l.msg === 'Rule failed; suspended for this device, its other rules go on.');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ rule: 'tank-plc-1.level', device: 'tank-plc-1', during: 'sample' });
  });
});
