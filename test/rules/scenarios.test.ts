// The sample config's tank rules (protocols/modbus/sample.yaml) against a synthetic tank stream: every simulator
// scenario is caught with the right category within two polls, cleared after it ends, and a
// normal 10 minutes raise nothing. The cycle judge (engine + alert lifecycle), no sockets.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AlertManager } from '../../rules/alerts/manager.js';
import type { SignalDraft } from '../../rules/signal.js';
import { RuleEngine } from '../../rules/engine.js';
import { CycleJudge } from '../../rules/judge/index.js';
import { TANK_TAG_NAMES, TankStream, type Scenario } from './tank_stream.js';

// The rules of the sample config, pointed at the synthetic device of these tests.
const sample = parse(fs.readFileSync(new URL('../../protocols/modbus/sample.yaml', import.meta.url), 'utf8')) as { rules: Record<string, unknown>[] };
const rules = sample.rules.map((r) => ({ ...r, device: 'tank1' })) as unknown[];
const devices = [{ id: 'tank1', tags: TANK_TAG_NAMES.map((name) => ({ name })) }];

interface Run {
  signals: Array<SignalDraft & { poll: number }>;
  alerts: AlertManager;
}

function run(scenario: Scenario, from: number, to: number, polls: number, seed = 42): Run {
  const judge = new CycleJudge(new RuleEngine(rules, devices), new AlertManager({}, { devices: ['tank1'] }));
  const stream = new TankStream('tank1', 10, seed);
  const signals: Run['signals'] = [];
  for (let i = 0; i < polls; i++) {
    const active = i >= from && i < to;
    for (const d of judge.judge({ device: 'tank1', ...stream.poll(i, active ? scenario : 'none', from), skipped_cycles: 0 })) signals.push({ ...d, poll: i });
  }
  return { signals, alerts: judge.alerts };
}

describe('example tank rules on a synthetic tank', () => {
  it('a normal 10 minutes raise nothing (several seeds)', () => {
    for (const seed of [1, 2, 3, 42]) expect(run('none', 0, 0, 600, seed).signals.map((s) => `${s.rule} ${s.message}`)).toEqual([]);
  });

  const FROM = 120;
  const TO = 150;
  // late: polls after the first attacked one (0 = caught at once). A frozen value must repeat
  // twice (two intervals) before it is distinguishable from chance.
  it.each<[Scenario, string, string, number]>([
    ['setpoint-tamper', 'config', 'integrity', 0],
    ['firmware-swap', 'firmware', 'identity', 0],
    ['sensor-spoof', 'level-range', 'anomaly', 0],
    ['sensor-freeze', 'frozen', 'anomaly', 2],
    ['pump-toggle', 'pump-toggling', 'whitelist', 1],
    ['plc-offline', 'link', 'availability', 1],
    ['slow-plc', 'link', 'availability', 1],
    ['foreign-master', 'counters', 'anomaly', 0],
    ['malformed', 'answers', 'anomaly', 0],
  ])('%s raises %s (%s) within two polls and clears after', (scenario, rule, category, late) => {
    // long enough after the attack for flapping alerts to be released (flap.hold_ms 5 min)
    const { signals, alerts } = run(scenario, FROM, TO, TO + 360);
    const before = signals.filter((s) => s.poll < FROM);
    expect(before).toEqual([]);
    const hit = signals.find((s) => s.rule === rule && s.state === 'raised');
    expect(hit, JSON.stringify(signals.map((s) => [s.poll, s.rule, s.state]))).toBeDefined();
    expect(hit!.category).toBe(category);
    expect(hit!.poll - FROM).toBeLessThanOrEqual(late);
    // every alert raised during the attack is cleared (or released after flapping) after it
    const trace = JSON.stringify(signals.map((s) => [s.poll, s.rule, s.state, s.message]));
    expect(alerts.stats().active, trace).toBe(0);
    expect(signals.filter((s) => s.state === 'raised').length, trace).toBe(signals.filter((s) => s.state === 'cleared').length);
    expect(signals.filter((s) => s.poll >= TO + 60 && s.state === 'raised'), trace).toEqual([]);
  });
});
