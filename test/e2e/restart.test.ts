// Restarting the agent neither repeats an alert whose condition still holds nor leaves one open
// whose condition went away while it was down.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { collect, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { startAgent, tempDir, uniqueSignals, withOutput, writeAgentConfig, type AgentProcess } from './harness.js';

const RULE = { id: 'mode-whitelist', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0, 1] };

let broker: TestBroker;
let sim: ModbusSimulator;
let subscriber: Collector | undefined;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.kill('SIGKILL');
  await subscriber?.close();
  sim.plc('tank-plc-1').writeTag('mode', 1);
});
afterAll(async () => {
  await sim?.stop();
  await broker?.stop();
});

const modeSignals = (c: Collector) => uniqueSignals(c.messages).filter((s) => s.rule === 'mode-whitelist');

async function raiseThenStop(config: string): Promise<void> {
  const a = startAgent(config);
  agents.push(a);
  sim.plc('tank-plc-1').writeTag('mode', 2);
  await withOutput(a, subscriber!.waitFor((m) => uniqueSignals(m).some((s) => s.state === 'raised'), 10_000, 'the raise'));
  expect(await a.kill('SIGTERM')).toBe(0);
}

describe('agent restart', () => {
  it('does not raise again an alert whose condition still holds, and clears it later', { timeout: 30_000 }, async () => {
    const dir = tempDir('restart-hold');
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs, rules: [RULE] });
    subscriber = await collect(broker.url, 'otsentry/lab/gw-e2e/events');
    await raiseThenStop(config);
    const b = startAgent(config);
    agents.push(b);
    await new Promise((r) => setTimeout(r, 2500)); // many polls with mode still 2
    expect(modeSignals(subscriber).map((s) => s.state)).toEqual(['raised']);
    sim.plc('tank-plc-1').writeTag('mode', 1);
    await withOutput(b, subscriber.waitFor((m) => uniqueSignals(m).some((s) => s.state === 'cleared'), 10_000, 'the clear'));
    expect(modeSignals(subscriber).map((s) => s.state)).toEqual(['raised', 'cleared']);
  });

  it('clears an alert whose condition went away while the agent was down', { timeout: 30_000 }, async () => {
    const dir = tempDir('restart-gone');
    const config = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs, rules: [RULE], alerts: { restore_grace_ms: 1500 } });
    subscriber = await collect(broker.url, 'otsentry/lab/gw-e2e/events');
    await raiseThenStop(config);
    sim.plc('tank-plc-1').writeTag('mode', 1);
    const b = startAgent(config);
    agents.push(b);
    await withOutput(b, subscriber.waitFor((m) => uniqueSignals(m).some((s) => s.state === 'cleared'), 10_000, 'the clear'));
    const [raised, cleared] = modeSignals(subscriber);
    expect(raised.state).toBe('raised');
    expect(cleared).toMatchObject({ state: 'cleared', evidence: { reason: 'not_confirmed_after_restart' } });
  });
});
