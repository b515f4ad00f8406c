// The whole data path as a user runs it: `otsentry run` polls the simulator, judges, commits to
// the outbox and forwards to a real broker. Broker outages and SIGKILL lose nothing.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { collect, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { verifyChain } from '../../agent/outbox/index.js';
import { CATEGORIES, SEVERITIES, type RiskSignal } from '../../rules/signal.js';
import { outboxState, startAgent, tempDir, uniqueSignals, until, withOutput, writeAgentConfig, type AgentProcess } from './harness.js';

// An operator toggling the mode register between auto (1) and maintenance (2) against a
// whitelist of [0, 1]: every toggle is one raised or one cleared signal.
const MODE_RULE = { id: 'mode-whitelist', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0, 1] };

let broker: TestBroker;
let sim: ModbusSimulator;
let agents: AgentProcess[] = [];
let subscriber: Collector | undefined;
let toggler: NodeJS.Timeout | undefined;

beforeAll(async () => {
  broker = await startTestBroker({ persistence: true });
  console.info(`e2e broker: ${broker.kind} on port ${broker.port}`);
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 2 }));
});

afterEach(async () => {
  if (toggler) clearInterval(toggler);
  toggler = undefined;
  for (const a of agents) await a.kill('SIGKILL');
  agents = [];
  await subscriber?.close();
  subscriber = undefined;
  sim.plc('tank-plc-1').writeTag('mode', 1);
});

afterAll(async () => {
  await sim?.stop();
  await broker?.stop();
});

function startToggling(everyMs = 300): void {
  const plc = sim.plc('tank-plc-1');
  toggler = setInterval(() => plc.writeTag('mode', plc.readTag('mode') === 1 ? 2 : 1), everyMs);
}

function stopToggling(): void {
  clearInterval(toggler);
  toggler = undefined;
}

function setup(name: string): { dir: string; config: string } {
  const dir = tempDir(name);
  const config = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs, rules: [MODE_RULE] });
  return { dir, config };
}

/** Every seq from 1 to the outbox's last arrived exactly once as a unique id, in order, chained. */
function expectComplete(signals: RiskSignal[], lastSeq: number): void {
  const seqs = signals.map((s) => s.seq);
  expect(seqs.length).toBe(lastSeq);
  expect(seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
  const chain = verifyChain(signals);
  expect(chain.problems).toEqual([]);
}

describe('otsentry run end to end', () => {
  it('delivers risk signals with the DESIGN.md schema and an unbroken hash chain', async () => {
    const { dir, config } = setup('schema');
    subscriber = await collect(broker.url, 'otsentry/lab/gw-e2e/#', { clientId: 'e2e-schema', clean: false });
    const agent = startAgent(config);
    agents.push(agent);
    startToggling();
    await withOutput(agent, subscriber.waitFor((m) => uniqueSignals(m).length >= 10, 20_000, '10 signals'));
    stopToggling();
    await agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const signals = uniqueSignals(subscriber.messages);
    for (const s of signals) {
      expect(s.v).toBe(2);
      expect(typeof s.id).toBe('string');
      expect(Number.isInteger(s.seq)).toBe(true);
      expect(new Date(s.ts).toISOString()).toBe(s.ts);
      expect(s.agent).toBe('gw-e2e');
      expect(s.site).toBe('lab');
      expect(['tank-plc-1', 'tank-plc-2']).toContain(s.device);
      // besides the mode rule, a loaded machine may show the built-in poll-schedule signal
      expect(['mode-whitelist', 'otsentry.poll_schedule']).toContain(s.rule);
      if (s.rule === 'mode-whitelist') expect(s.tag).toBe('mode');
      expect(CATEGORIES).toContain(s.category);
      expect(SEVERITIES).toContain(s.severity);
      expect(['raised', 'cleared']).toContain(s.state);
      expect(s.score).toBeGreaterThanOrEqual(0);
      expect(s.score).toBeLessThanOrEqual(100);
      expect(s.message.length).toBeGreaterThan(0);
      expect(s.prev_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(s.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(s.key_id).toMatch(/^[0-9a-f]{16}$/);
      expect(Buffer.from(s.sig!, 'base64')).toHaveLength(64);
    }
    const mode = signals.filter((s) => s.rule === 'mode-whitelist');
    expect(mode.filter((s) => s.state === 'raised').length).toBeGreaterThan(0);
    expect(mode.filter((s) => s.state === 'cleared').length).toBeGreaterThan(0);
    await until(() => subscriber!.messages.some((m) => m.topic.endsWith('/status') && JSON.parse(m.payload).state !== 'online'), 5000, 'offline status');
    const { lastSeq, pending } = outboxState(path.join(dir, 'data'));
    expect(pending).toBe(0);
    expectComplete(uniqueSignals(subscriber.messages), lastSeq);
    // the retained inventory names both devices and their identity
    const assets = subscriber.messages.filter((m) => m.topic.endsWith('/assets')).map((m) => JSON.parse(m.payload));
    expect(assets.length).toBeGreaterThan(0);
    expect(assets.at(-1).devices.map((d: { id: string }) => d.id).sort()).toEqual(['tank-plc-1', 'tank-plc-2']);
  });

  it('loses and reorders nothing when the broker is stopped and restarted mid-run', { timeout: 60_000 }, async () => {
    const { dir, config } = setup('outage');
    subscriber = await collect(broker.url, 'otsentry/lab/gw-e2e/events', { clientId: 'e2e-outage', clean: false });
    const agent = startAgent(config);
    agents.push(agent);
    startToggling();
    await withOutput(agent, subscriber.waitFor((m) => uniqueSignals(m).length >= 5, 20_000, '5 signals before the outage'));
    await broker.stop();
    await new Promise((r) => setTimeout(r, 3000)); // signals pile up in the outbox meanwhile
    await broker.restart();
    await new Promise((r) => setTimeout(r, 2000));
    stopToggling();
    await new Promise((r) => setTimeout(r, 1000));
    await agent.kill('SIGTERM');
    const { lastSeq, pending } = outboxState(path.join(dir, 'data'));
    expect(pending).toBe(0);
    await subscriber.waitFor((m) => uniqueSignals(m).length >= lastSeq, 10_000, `all ${lastSeq} signals`);
    expect(lastSeq).toBeGreaterThan(20); // the outage really held signals back
    expectComplete(uniqueSignals(subscriber.messages), lastSeq);
  });

  it('loses nothing when the agent is SIGKILLed mid-run and restarted', { timeout: 60_000 }, async () => {
    const { dir, config } = setup('sigkill');
    subscriber = await collect(broker.url, 'otsentry/lab/gw-e2e/events', { clientId: 'e2e-sigkill', clean: false });
    const first = startAgent(config);
    agents.push(first);
    startToggling(250);
    await withOutput(first, subscriber.waitFor((m) => uniqueSignals(m).length >= 8, 20_000, '8 signals before the kill'));
    expect(await first.kill('SIGKILL')).toBe(null);
    await new Promise((r) => setTimeout(r, 500));
    const second = startAgent(config);
    agents.push(second);
    await new Promise((r) => setTimeout(r, 2000));
    stopToggling();
    await new Promise((r) => setTimeout(r, 1000));
    await second.kill('SIGTERM');
    const { lastSeq, pending } = outboxState(path.join(dir, 'data'));
    expect(pending).toBe(0);
    await subscriber.waitFor((m) => uniqueSignals(m).length >= lastSeq, 10_000, `all ${lastSeq} signals`);
    expectComplete(uniqueSignals(subscriber.messages), lastSeq);
  });
});
