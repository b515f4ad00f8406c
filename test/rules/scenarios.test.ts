// The example tank rules (rules/examples/tank.yaml) against a synthetic tank stream: every simulator
// scenario is caught with the right category within two polls, cleared after it ends, and a
// normal 10 minutes raise nothing. Engine + alert lifecycle, no sockets.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AlertManager } from '../../agent/alerts/manager.js';
import type { SignalDraft } from '../../agent/signal.js';
import { RuleEngine } from '../../rules/engine.js';
import type { Finding } from '../../rules/types.js';
import { TANK_TAG_NAMES, TankStream, type Scenario } from './tank_stream.js';

const rules = parse(fs.readFileSync(new URL('../../rules/examples/tank.yaml', import.meta.url), 'utf8')) as unknown[];
const devices = [{ id: 'tank1', tags: TANK_TAG_NAMES.map((name) => ({ name })) }];

interface Run {
  signals: Array<SignalDraft & { poll: number }>;
}

function run(scenario: Scenario, from: number, to: number, polls: number, seed = 42): Run {
  const engine = new RuleEngine(rules, devices);
  const alerts = new AlertManager({}, { devices: ['tank1'] });
  const stream = new TankStream('tank1', 10, seed);
  const signals: Run['signals'] = [];
  for (let i = 0; i < polls; i++) {
    const active = i >= from && i < to;
    const { samples, facts } = stream.poll(i, active ? scenario : 'none', from);
    const findings: Finding[] = [];
    for (const s of samples) findings.push(...engine.onSample(s));
    for (const f of facts) if (f.kind !== 'link') findings.push(...engine.onFact(f));
    for (const f of facts) if (f.kind === 'link') findings.push(...engine.onFact(f));
    findings.push(...engine.evaluateTime(stream.t0 + i * 1000 + 30));
    for (const d of [...alerts.onFindings(findings), ...alerts.tick(stream.t0 + i * 1000 + 30)]) signals.push({ ...d, poll: i });
  }
  return { signals };
}

describe('example tank rules on a synthetic tank', () => {
  it('a normal 10 minutes raise nothing (several seeds)', () => {
    for (const seed of [1, 2, 3, 42]) expect(run('none', 0, 0, 600, seed).signals.map((s) => `${s.rule} ${s.message}`)).toEqual([]);
  });

  const FROM = 120;
  const TO = 150;
  it.each<[Scenario, string, string]>([
    ['setpoint-tamper', 'tank1.config', 'integrity'],
    ['firmware-swap', 'tank1.firmware', 'identity'],
    ['sensor-spoof', 'tank1.level-range', 'anomaly'],
    ['sensor-freeze', 'tank1.frozen', 'anomaly'],
    ['pump-toggle', 'tank1.pump-toggling', 'whitelist'],
    ['plc-offline', 'tank1.link', 'availability'],
    ['slow-plc', 'tank1.link', 'availability'],
    ['foreign-master', 'tank1.counters', 'anomaly'],
    ['malformed', 'tank1.answers', 'anomaly'],
  ])('%s raises %s (%s) within two polls and clears after', (scenario, rule, category) => {
    const { signals } = run(scenario, FROM, TO, 240);
    const before = signals.filter((s) => s.poll < FROM);
    expect(before).toEqual([]);
    const hit = signals.find((s) => s.rule === rule && s.state === 'raised');
    expect(hit, JSON.stringify(signals.map((s) => [s.poll, s.rule, s.state]))).toBeDefined();
    expect(hit!.category).toBe(category);
    expect(hit!.poll - FROM).toBeLessThanOrEqual(1); // seen at the first or second poll of the attack
    // every alert raised during the attack is cleared (or released) after it
    const raised = signals.filter((s) => s.state === 'raised').map((s) => `${s.rule}|${s.tag ?? ''}|${String(s.evidence?.condition ?? '')}`);
    const cleared = signals.filter((s) => s.state === 'cleared').map((s) => `${s.rule}|${s.tag ?? ''}|${String(s.evidence?.condition ?? '')}`);
    expect(new Set(cleared), JSON.stringify(signals.map((s) => [s.poll, s.rule, s.state, s.message]))).toEqual(new Set(raised));
  });
});
