// Prometheus metrics of a running agent: per-device poll counters, outbox and broker state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config/load.js';
import { silentLogger } from '../../protocols/log.js';
import { runAgent, type RunningAgent } from '../../agent/runtime.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/ports.js';
import { tempDir, until, writeAgentConfig } from './harness.js';

let broker: TestBroker;
let sim: ModbusSimulator;
let agent: RunningAgent;

beforeAll(async () => {
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
  const dir = tempDir('metrics');
  const port = await freePort();
  const file = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs, rules: [{ id: 'mode', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0] }] });
  const loaded = loadConfig(file);
  loaded.config.agent.metrics_listen = `127.0.0.1:${port}`;
  agent = await runAgent(loaded, { logger: silentLogger });
});

afterAll(async () => {
  await agent?.stop();
  await sim?.stop();
  await broker?.stop();
});

async function scrape(): Promise<string> {
  const res = await fetch(agent.metricsUrl!);
  expect(res.status).toBe(200);
  return res.text();
}

const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);

describe('metrics endpoint', () => {
  it('reports polls, samples, signals, outbox and broker state', async () => {
    await until(() => agent.judge.counters.signals >= 1 && agent.forwarder.stats().acked >= 1, 10_000, 'a signal acked');
    const text = await scrape();
    expect(value(text, 'otsentry_device_up{device="tank-plc-1"}')).toBe(1);
    expect(value(text, 'otsentry_poll_cycles_total{device="tank-plc-1"}')).toBeGreaterThan(0);
    expect(value(text, 'otsentry_samples_total')).toBeGreaterThan(0);
    expect(value(text, 'otsentry_signals_total')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'otsentry_broker_connected')).toBe(1);
    expect(value(text, 'otsentry_broker_acked_total')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'otsentry_device_risk_score{device="tank-plc-1"}')).toBeGreaterThan(0);
    expect(text).toMatch(/^otsentry_process_resident_memory_bytes \d+/m);
  });

  it('counts up between scrapes', async () => {
    const before = value(await scrape(), 'otsentry_poll_cycles_total{device="tank-plc-1"}');
    await new Promise((r) => setTimeout(r, 600));
    expect(value(await scrape(), 'otsentry_poll_cycles_total{device="tank-plc-1"}')).toBeGreaterThan(before);
  });

  it('answers 404 elsewhere', async () => {
    const res = await fetch(agent.metricsUrl!.replace('/metrics', '/'));
    expect(res.status).toBe(404);
  });
});
