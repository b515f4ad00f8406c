// Learning on a synthetic tank process (test/rules/tank_stream.ts): the expected rules come out with
// their evidence, the learned set raises nothing on held-back normal data (other seeds), and it
// catches every simulator scenario.
import { describe, expect, it } from 'vitest';
import { AlertManager } from '../../rules/alerts/manager.js';
import { Learner, type LearnResult } from '../../rules/learn/learner.js';
import { RuleEngine } from '../../rules/engine.js';
import { CycleJudge } from '../../rules/judge/index.js';
import type { Finding } from '../../rules/types.js';
import { TANK_TAG_NAMES, TankStream, type Scenario } from '../rules/tank_stream.js';

const devices = [{ id: 'tank1', tags: TANK_TAG_NAMES.map((name) => ({ name })) }];

function learn(polls: number, seed: number): LearnResult {
  const learner = new Learner(devices);
  const stream = new TankStream('tank1', 10, seed);
  for (let i = 0; i < polls; i++) {
    learner.cycle({ device: 'tank1', ...stream.poll(i, 'none', 0), skipped_cycles: 0 });
  }
  return learner.result();
}

const learned = learn(3000, 7);
const rules = learned.rules.map((r) => r.rule);
const byId = new Map(rules.map((r) => [String(r.id), r]));

/** Judge a stream with the learned rules, as the agent does; scenario active in polls [from, to). */
function judge(scenario: Scenario, from: number, to: number, polls: number, seed: number, alerts = new AlertManager()): Array<{ poll: number; f: Finding }> {
  const stream = new TankStream('tank1', 10, seed, Date.parse('2025-04-01T00:00:00Z'));
  const out: Array<{ poll: number; f: Finding }> = [];
  let poll = 0;
  const judge = new CycleJudge(new RuleEngine(rules, devices), alerts, { onFindings: (fs) => fs.forEach((f) => out.push({ poll, f })) });
  for (; poll < polls; poll++) judge.judge({ device: 'tank1', ...stream.poll(poll, poll >= from && poll < to ? scenario : 'none', from), skipped_cycles: 0 });
  return out;
}

describe('learning a tank process', () => {
  it('learns the approved configuration, allowed values, ranges, stuck limits and the identity', () => {
    const base = byId.get('tank1.baseline')!;
    expect(base.type).toBe('integrity');
    expect(base.baseline).toMatchObject({ level_high_sp: 3.5, level_low_sp: 1.5, outflow_sp: 6, pid_kp: 4, pid_ki: 0.5, config_word: 259, firmware_version: 241, mode: 1, valve_position: 55 });
    expect(byId.get('tank1.pump_cmd.values')).toMatchObject({ type: 'allowed_values', values: [0, 1] });
    const level = byId.get('tank1.level.range')!;
    expect(level.min).toBeGreaterThan(1);
    expect(level.min).toBeLessThan(1.5);
    expect(level.max).toBeGreaterThan(3.5);
    expect(level.max).toBeLessThan(4);
    expect(byId.get('tank1.level.stuck')).toMatchObject({ type: 'stuck' });
    expect(byId.get('tank1.heartbeat.range')).toBeUndefined(); // a counter: its level means nothing
    expect(byId.get('tank1.identity')).toMatchObject({ expected: { vendor: 'otsentry simulators', product_code: 'OTS-TANK-1', revision: '2.4.1' } });
    expect(byId.get('tank1.link')).toMatchObject({ type: 'availability' });
    expect(byId.get('tank1.counters')).toMatchObject({ type: 'diagnostics', max_comm_errors: 0, max_foreign_exceptions: 0 });
  });

  it('mines the pump invariants and a level model, each with its evidence', () => {
    const exprs = rules.filter((r) => r.type === 'expression').map((r) => String(r.expr));
    // one of the two ways of writing it, not both (each would raise on the same state)
    const pumpRule = ['pump_running == 0 implies pump_cmd == 0', 'pump_cmd == 1 implies pump_running == 1'];
    expect(exprs.filter((e) => pumpRule.includes(e))).toHaveLength(1);
    expect(exprs.some((e) => /^pump_running == 1 implies flow_rate >= /.test(e))).toBe(true);
    expect(exprs.some((e) => /^pump_running == 0 implies flow_rate <= /.test(e))).toBe(true);
    const model = byId.get('tank1.level.model')!;
    expect(model.type).toBe('residual');
    expect((model.terms as Array<{ tag: string }>).length).toBeGreaterThan(0);
    for (const r of learned.rules) expect(r.evidence.join(' ')).toMatch(/\d/);
  });

  it('raises nothing on held-back normal operation', () => {
    for (const seed of [1, 2, 3]) {
      const fs = judge('none', 0, 0, 900, seed);
      expect(fs.filter((x) => x.f.active).map((x) => `${x.poll} ${x.f.rule} ${x.f.message}`)).toEqual([]);
    }
  });

  // late: polls after the attack started; a frozen value must stand still longer than anything
  // seen while learning (at least three cycles) before it is told from a slow process.
  it.each<[Scenario, number]>([
    ['setpoint-tamper', 0],
    ['firmware-swap', 0],
    ['sensor-spoof', 0],
    ['sensor-freeze', 4],
    ['pump-toggle', 2],
    ['plc-offline', 2],
    ['slow-plc', 2],
    ['foreign-master', 1],
    ['malformed', 1],
  ])('catches %s within %i polls', (scenario, late) => {
    const fs = judge(scenario, 300, 340, 400, 5).filter((x) => x.f.active);
    expect(fs.filter((x) => x.poll < 300)).toEqual([]);
    const first = fs.find((x) => x.poll >= 300);
    expect(first, scenario).toBeDefined();
    expect(first!.poll - 300).toBeLessThanOrEqual(late);
  });

  it('signals of a caught attack clear after it ends', () => {
    const alerts = new AlertManager({ flap: { threshold: 1000 } }, { devices: ['tank1'] });
    judge('sensor-spoof', 300, 320, 500, 5, alerts);
    expect(alerts.stats().raised).toBeGreaterThan(0);
    expect(alerts.stats().active).toBe(0);
  });
});
