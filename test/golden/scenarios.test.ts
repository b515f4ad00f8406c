// Golden detection cases as data (cases/*.yaml): every simulator attack runs on its own simulated
// tank PLC, polled by the real poller, scheduler, rules and alert lifecycle with the demo config
// (the sample config's rules) on a virtual clock (virtual.ts): 12 s of normal plant time, the
// attack for 6 s, 12 s after it. Each case must raise its rule with the right category and at
// least its severity within `within_polls` poll intervals (default 2) of the attack's start, and
// end cleared when it says so; nothing is raised before the attack, nor on an untouched control
// PLC. Exact and load-independent: the clock moves only when the agent waits. The live path
// (sockets, broker, outbox) is what test/e2e and test/faults test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import { parseConfigText } from '../../agent/config/load.js';
import { demoAgentConfig } from '../../agent/demo/config.js';
import { silentLogger } from '../../protocols/log.js';
import { severityRank, type Severity, type SignalDraft } from '../../rules/signal.js';
import { Plc, parseSimulatorConfig, tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { runScenario, type ScenarioRun } from '../../simulators/modbus/scenarios/runner.js';
import { runVirtual, VirtualTime } from './virtual.js';

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

const T0 = Date.UTC(2026, 0, 1);
const WARMUP_MS = 12_000; // the availability rule learns the normal round-trip time first
const ATTACK_MS = 6_000;
const AFTER_MS = 12_000; // a PLC back from offline is reconnected within reconnect_max_ms (5 s); rate windows are 10 s
const TOLERANCE_MS = 400; // the answer that shows the attack arrives after its poll started (slow-plc: 4 reads of 120 ms)

/** One PLC, polled from T0 for the whole timeline, with `attack` (if any) from WARMUP_MS for ATTACK_MS. */
async function run(id: string, seed: number, attack?: GoldenCase): Promise<{ signals: SignalDraft[]; cycles: number; intervalMs: number }> {
  const raw = demoAgentConfig({ brokerUrl: 'mqtt://127.0.0.1:1883', dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-golden-')), plcs: [{ id, host: '127.0.0.1', port: 502, framing: 'tcp' }] });
  const loaded = parseConfigText(stringify(raw));
  expect(loaded.problems).toEqual([]);
  const config = loaded.config!;
  const plc = new Plc({ ...parseSimulatorConfig(tankSimulatorConfig({ plcs: 1, seed })).plcs[0], id }, silentLogger);
  const time = new VirtualTime(T0, plc);
  if (attack) {
    let scenario: ScenarioRun | undefined;
    time.schedule({ at: T0 + WARMUP_MS, run: async () => void (scenario = await runScenario(plc, attack.scenario, attack.params)) });
    time.schedule({ at: T0 + WARMUP_MS + ATTACK_MS, run: () => scenario!.stop() });
  }
  try {
    const r = await runVirtual(config, plc, time, T0 + WARMUP_MS + ATTACK_MS + AFTER_MS);
    return { ...r, intervalMs: config.devices[0].interval_ms };
  } finally {
    await plc.stop();
  }
}

const show = (list: SignalDraft[]) => list.map((s) => `+${Date.parse(s.ts) - T0} ms ${s.rule} ${s.category}/${s.severity} ${s.state}: ${s.message}`).join('\n');

describe('golden detection cases: the simulator attacks against the demo rules, on a virtual clock', () => {
  it('raises nothing on an untouched control PLC in the whole run', async () => {
    const { signals, cycles } = await run('control', 100);
    expect(cycles).toBeGreaterThanOrEqual(29);
    expect(signals.filter((s) => s.state === 'raised'), show(signals)).toEqual([]);
  });

  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const { signals, intervalMs } = await run(c.name, 101 + i, c);
    const start = T0 + WARMUP_MS;
    const early = signals.filter((s) => s.state === 'raised' && Date.parse(s.ts) < start);
    expect(early, `raised before the attack:\n${show(signals)}`).toEqual([]);
    for (const want of c.expect) {
      const hit = signals.find((s) => s.rule === want.rule && s.state === want.state && s.category === want.category);
      expect(hit, `no ${want.state} ${want.rule} (${want.category}) among:\n${show(signals)}`).toBeDefined();
      if (want.severity) expect(severityRank(hit!.severity)).toBeGreaterThanOrEqual(severityRank(want.severity));
      if (want.state === 'raised') {
        const late = Date.parse(hit!.ts) - start;
        expect(late, `${want.rule} raised ${late} ms after the attack began:\n${show(signals)}`).toBeLessThanOrEqual((c.within_polls ?? 2) * intervalMs + TOLERANCE_MS);
      } else {
        // Some attacks move in and out of a rule's condition while they last (a spoofed value
        // that jumps inside the range); what matters is that the rule ends cleared.
        const last = signals.filter((s) => s.rule === want.rule).at(-1)!;
        expect(last.state, `${want.rule} still raised at the end:\n${show(signals)}`).toBe('cleared');
      }
    }
  });
});
