// One judge loop, proven end to end: `otsentry run --record` polls the Modbus simulator over TCP
// while scenarios play (mode toggling, a spoofed sensor, a PLC slow enough that cycles overrun
// their slots) and forwards to a real broker; `otsentry replay --events` of that recording must
// yield the very signals the broker received, in the same order: rule, device, tag, state,
// severity, and also data time, message, evidence and risk score (only ids, seq and the agent's
// wall-clock fields differ). Flap hold and rate limit are on, so the alert stage is compared too.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULE_RULE } from '../../rules/judge/index.js';
import type { RiskSignal, SignalDraft } from '../../rules/signal.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { collect, distEntry, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { outboxState, startAgent, tempDir, uniqueSignals, until, withOutput, writeAgentConfig, type AgentProcess } from '../e2e/harness.js';

let broker: TestBroker;
let sim: ModbusSimulator;
let subscriber: Collector | undefined;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
});

afterAll(async () => {
  for (const a of agents) await a.kill('SIGKILL');
  await subscriber?.close();
  await sim?.stop();
  await broker?.stop();
});

/** What a signal says about the plant, without what only the agent's delivery adds. */
function judged(s: SignalDraft): Record<string, unknown> {
  return { ts: s.ts, device: s.device, tag: s.tag, rule: s.rule, category: s.category, severity: s.severity, state: s.state, score: s.score, message: s.message, observed: s.observed, expected: s.expected, evidence: s.evidence };
}

/** Poll cycles written so far (link facts and cycle lines end them). */
function recordedCycles(file: string): number {
  if (!fs.existsSync(file)) return 0;
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"kind":"link"') || l.startsWith('{"type":"cycle"')).length;
}

describe('replay of `run --record`', () => {
  it('yields the signals the live run sent to the broker, in order', { timeout: 120_000 }, async () => {
    const plc = sim.plcs[0];
    const id = plc.id;
    const [lo, hi] = sim.plc(id).tag('level').normal ?? [0, 5];
    const rules = [
      { id: 'mode', type: 'allowed_values', device: id, tag: 'mode', values: [0, 1] },
      { id: 'level', type: 'range', device: id, tag: 'level', min: lo - (hi - lo) / 2, max: hi + (hi - lo) / 2 },
      { id: 'level-jumps', type: 'rate', device: id, tag: 'level', max_per_s: 4 * (hi - lo), hold_ms: 1000 },
      { id: 'link', type: 'availability', device: id },
      { id: 'answers', type: 'exceptions', device: id },
    ];
    const dir = tempDir('equivalence');
    const config = writeAgentConfig(dir, {
      brokerUrl: broker.url,
      plcs: [plc],
      rules,
      // four reads of a slow PLC fit 200 ms; a cycle that also reads its FC08 counters does not
      device: { interval_ms: 200, timeout_ms: 50, diagnostics_interval_ms: 1000 },
      alerts: { flap: { window_ms: 60_000, threshold: 3, hold_ms: 1500 }, rate_limit: { burst: 4, per_minute: 60 } },
    });
    const rec = path.join(dir, 'live.jsonl');
    subscriber = await collect(broker.url, 'otsentry/lab/gw-e2e/events', { clientId: 'equivalence', clean: false });
    const agent = startAgent(config, ['run', '--config', config, '--record', rec]);
    agents.push(agent);
    const cycles = (n: number, what: string) => withOutput(agent, until(() => recordedCycles(rec) >= n, 30_000, what));
    const arrived = (pred: (s: RiskSignal) => boolean, what: string) => withOutput(agent, subscriber!.waitFor((m) => uniqueSignals(m).some(pred), 30_000, what));

    await cycles(10, 'ten recorded cycles');
    // An operator toggles the mode between auto and maintenance: raises, clears, flapping, rate limit.
    const tank = sim.plc(id);
    const toggler = setInterval(() => tank.writeTag('mode', tank.readTag('mode') === 1 ? 2 : 1), 250);
    await cycles(recordedCycles(rec) + 12, 'twelve cycles of toggling');
    clearInterval(toggler);
    tank.writeTag('mode', 1);
    const spoof = await sim.startScenario('sensor-spoof', id, { period_ms: 400 });
    await arrived((s) => s.rule === 'level' && s.state === 'raised', 'the spoofed level raised');
    await spoof.stop();
    const slow = await sim.startScenario('slow-plc', id, { delay_ms: 35 });
    await arrived((s) => s.rule === SCHEDULE_RULE && s.state === 'raised', 'the schedule signal raised');
    await slow.stop();
    await arrived((s) => s.rule === SCHEDULE_RULE && s.state === 'cleared', 'the schedule signal cleared');
    await cycles(recordedCycles(rec) + 15, 'fifteen quiet cycles');
    expect(await agent.kill('SIGTERM'), agent.output()).toBe(0);

    // Everything the live run committed must have reached the broker; a second run (unrecorded)
    // delivers what the first one had not handed over yet when it stopped.
    const { lastSeq } = outboxState(path.join(dir, 'data'));
    const live = () => uniqueSignals(subscriber!.messages).filter((s) => s.seq <= lastSeq).sort((a, b) => a.seq - b.seq);
    if (live().length < lastSeq) {
      const drain = startAgent(config);
      agents.push(drain);
      await withOutput(drain, subscriber.waitFor(() => live().length === lastSeq, 30_000, `signals 1..${lastSeq}`));
      await drain.kill('SIGTERM');
    }
    expect(live().map((s) => s.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));

    const events = path.join(dir, 'replayed.jsonl');
    const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), 'replay', '--input', rec, '--config', config, '--events', events], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(3); // something fired
    const replayed = fs.readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SignalDraft);

    const rules_ = new Set(live().map((s) => s.rule));
    for (const rule of ['mode', 'level', SCHEDULE_RULE]) expect(rules_, `live signals of ${rule}`).toContain(rule);
    expect(live().some((s) => s.evidence?.flapping === true || s.evidence?.rate_limited !== undefined), 'flap hold or rate limit at work').toBe(true);
    expect(replayed.map(judged)).toEqual(live().map(judged));
  });
});
