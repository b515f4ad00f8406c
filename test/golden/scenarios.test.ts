// Golden detection cases as data (cases/*.yaml): every simulator attack runs on its own simulated
// PLC, all at once, polled over TCP by the real agent with the sample config's rules; the signals
// are read back from a real broker. Each case must raise its rule with the right category and at
// least its severity within `within_polls` poll intervals (default 2), and clear when it says so;
// an untouched control PLC and the time before the attacks raise nothing.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../agent/config/load.js';
import { demoAgentConfig } from '../../agent/demo/config.js';
import { silentLogger } from '../../protocols/log.js';
import { runAgent, type RunningAgent } from '../../agent/runtime.js';
import { severityRank, type RiskSignal, type Severity } from '../../rules/signal.js';
import { startModbusSimulator, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { collect, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { tempDir, uniqueSignals } from '../e2e/harness.js';

interface GoldenCase {
  name: string;
  scenario: string;
  params?: Record<string, unknown>;
  within_polls?: number;
  expect: { rule: string; category: string; severity?: Severity; state: 'raised' | 'cleared' }[];
}

const casesDir = path.join(import.meta.dirname, 'cases');
const cases: GoldenCase[] = fs
  .readdirSync(casesDir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ name: f.replace(/\.yaml$/, ''), ...(parse(fs.readFileSync(path.join(casesDir, f), 'utf8')) as Omit<GoldenCase, 'name'>) }));

const WARMUP_MS = 12_000; // the availability rule learns the normal round-trip time first
const ATTACK_MS = 6_000;
const AFTER_MS = 12_000; // a PLC back from offline is reconnected within reconnect_max_ms (5 s); rate windows are 10 s
const TOLERANCE_MS = 400; // the answer that shows the attack arrives after its poll started

let broker: TestBroker;
let sim: ModbusSimulator;
let agent: RunningAgent | undefined;
let subscriber: Collector;
let intervalMs = 0;
const attackStart = new Map<string, number>();
let signals: RiskSignal[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  console.info(`golden cases: broker ${broker.kind} on port ${broker.port}`);
  const ids = [...cases.map((c) => c.name), 'control'];
  sim = await startModbusSimulator({ plcs: ids.map((id, i) => ({ id, port: 0, framing: 'tcp', model: { type: 'tank' }, tick_ms: 100, seed: 100 + i })) });
  const dir = tempDir('golden');
  const file = path.join(dir, 'agent.yaml');
  fs.writeFileSync(file, stringify(demoAgentConfig({ brokerUrl: broker.url, dataDir: path.join(dir, 'data'), plcs: sim.plcs, protocolVersion: broker.kind === 'aedes' ? 4 : undefined })));
  const loaded = loadConfig(file);
  intervalMs = loaded.config.devices[0].interval_ms;
  subscriber = await collect(broker.url, `${loaded.config.broker.topic_prefix}/+/+/events`);
  agent = await runAgent(loaded, { logger: silentLogger });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const runs = await Promise.all(
    cases.map(async (c) => {
      const run = await sim.startScenario(c.scenario, c.name, c.params);
      attackStart.set(c.name, Date.now());
      return run;
    }),
  );
  await new Promise((r) => setTimeout(r, ATTACK_MS));
  await Promise.all(runs.map((r) => r.stop()));
  await new Promise((r) => setTimeout(r, AFTER_MS));
  await agent.stop();
  agent = undefined;
  await new Promise((r) => setTimeout(r, 300));
  signals = uniqueSignals(subscriber.messages);
}, WARMUP_MS + ATTACK_MS + AFTER_MS + 30_000);

afterAll(async () => {
  await agent?.stop();
  await subscriber?.close();
  await sim?.stop();
  await broker?.stop();
});

const show = (list: RiskSignal[]) => list.map((s) => `${s.ts} ${s.device} ${s.rule} ${s.category}/${s.severity} ${s.state}: ${s.message}`).join('\n');

describe('golden detection cases against the simulator over TCP and a real broker', () => {
  it('raises nothing on the untouched control PLC nor before any attack', () => {
    const firstAttack = Math.min(...attackStart.values());
    const early = signals.filter((s) => s.state === 'raised' && (s.device === 'control' || Date.parse(s.ts) < firstAttack));
    expect(early, show(early)).toEqual([]);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const mine = signals.filter((s) => s.device === c.name);
    const start = attackStart.get(c.name)!;
    for (const want of c.expect) {
      const rule = `${want.rule}.${c.name}`;
      const hit = mine.find((s) => s.rule === rule && s.state === want.state && s.category === want.category);
      expect(hit, `no ${want.state} ${rule} (${want.category}) among:\n${show(mine)}`).toBeDefined();
      if (want.severity) expect(severityRank(hit!.severity)).toBeGreaterThanOrEqual(severityRank(want.severity));
      if (want.state === 'raised') {
        const late = Date.parse(hit!.ts) - start;
        expect(late, `${rule} raised ${late} ms after the attack began:\n${show(mine)}`).toBeLessThanOrEqual((c.within_polls ?? 2) * intervalMs + TOLERANCE_MS);
      } else {
        // Some attacks move in and out of a rule's condition while they last (a spoofed value
        // that jumps inside the range); what matters is that the rule ends cleared.
        const last = mine.filter((s) => s.rule === rule).at(-1)!;
        expect(last.state, `${rule} still raised at the end:\n${show(mine)}`).toBe('cleared');
      }
    }
  });
});
