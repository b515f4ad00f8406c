// The process models: the tank stays inside its documented normal ranges over simulated hours, no
// live reading sticks, the level controller and modes behave, runs are deterministic per seed; the
// bench drifts slowly.
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../protocols/log.js';
import { parseSimulatorConfig, type SimulatorConfigInput } from '../../simulators/modbus/config.js';
import { benchSimulatorConfig, tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { TankModel } from '../../simulators/modbus/models/tank.js';
import { Plc } from '../../simulators/modbus/plc.js';
import { float32 } from './helpers.js';

/** A PLC that is never started: the test drives its clock with step(). */
function offlinePlc(input: SimulatorConfigInput): Plc {
  return new Plc(parseSimulatorConfig(input).plcs[0], silentLogger);
}

/** Sample every tag once per simulated second for `hours`. */
function run(plc: Plc, hours: number, tickMs = 100): Record<string, number[]> {
  const series: Record<string, number[]> = Object.fromEntries(plc.model.tags.map((t) => [t.name, []]));
  const perSecond = 1000 / tickMs;
  for (let s = 0; s < hours * 3600; s++) {
    for (let k = 0; k < perSecond; k++) plc.step(tickMs);
    for (const t of plc.model.tags) series[t.name].push(plc.readTag(t.name));
  }
  return series;
}

function longestRun(values: number[]): number {
  let best = 1;
  let cur = 1;
  for (let i = 1; i < values.length; i++) {
    cur = values[i] === values[i - 1] ? cur + 1 : 1;
    best = Math.max(best, cur);
  }
  return best;
}

describe('tank model', () => {
  const plc = offlinePlc(tankSimulatorConfig({ seed: 42 }));
  let series: Record<string, number[]>;
  beforeAll(() => {
    series = run(plc, 6);
  });

  it('keeps every tag inside its documented normal range for 6 simulated hours', () => {
    for (const t of plc.model.tags) {
      if (!t.normal) continue;
      const v = series[t.name];
      expect(Math.min(...v), `${t.name} min`).toBeGreaterThanOrEqual(t.normal[0]);
      expect(Math.max(...v), `${t.name} max`).toBeLessThanOrEqual(t.normal[1]);
    }
  });

  it('never lets a live reading stick (longest run of equal 1 s samples stays short)', () => {
    const runs: Record<string, number> = {};
    for (const t of plc.model.tags.filter((x) => x.live)) runs[t.name] = longestRun(series[t.name]);
    expect(Math.max(...Object.values(runs)), JSON.stringify(runs)).toBeLessThanOrEqual(6);
  });

  it('cycles the pump with hysteresis and shows flow only while it runs', () => {
    const { level, pump_running: run_, pump_cmd: cmd, flow_rate: flow, pump_starts: starts } = series;
    const bad: string[] = [];
    let ons = 0;
    for (let i = 1; i < level.length; i++) {
      if (run_[i] === 1 ? flow[i] <= 10 : flow[i] >= 0.1) bad.push(`${i} s: pump ${run_[i]} flow ${flow[i]}`);
      if (cmd[i] !== run_[i]) bad.push(`${i} s: command ${cmd[i]}, feedback ${run_[i]}`);
      if (run_[i] === 1 && run_[i - 1] === 0) {
        ons++;
        if (level[i] >= 1.6) bad.push(`${i} s: pump started at ${level[i]} m`);
      }
      if (run_[i] === 0 && run_[i - 1] === 1 && level[i] <= 3.4) bad.push(`${i} s: pump stopped at ${level[i]} m`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
    // about one fill/drain cycle every 8 minutes
    expect(ons).toBeGreaterThan(20);
    expect(starts[starts.length - 1]).toBeGreaterThanOrEqual(ons);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = offlinePlc(tankSimulatorConfig({ seed: 7 }));
    const b = offlinePlc(tankSimulatorConfig({ seed: 7 }));
    const c = offlinePlc(tankSimulatorConfig({ seed: 8 }));
    for (let i = 0; i < 5000; i++) [a, b, c].forEach((p) => p.step(100));
    expect([...a.image.input]).toEqual([...b.image.input]);
    expect([...a.image.input]).not.toEqual([...c.image.input]);
  });

  it('manual mode follows the operator; maintenance stops the pump and closes the valve', () => {
    const p = offlinePlc(tankSimulatorConfig());
    expect(p.image.clientWrite('holding_register', 0, [0])).toBe(true);
    p.image.clientWrite('coil', 0, [0]);
    p.image.clientWrite('holding_register', 1, [70]);
    for (let i = 0; i < 50; i++) p.step(100);
    expect(p.readTag('pump_running')).toBe(0);
    expect(p.readTag('valve_position')).toBe(70);
    p.image.clientWrite('holding_register', 0, [2]);
    p.step(100);
    expect([p.readTag('pump_running'), p.readTag('valve_position')]).toEqual([0, 0]);
    expect(p.image.clientWrite('holding_register', 0, [3])).toBe(false);
  });

  it('a tampered high setpoint lets the level rise past the normal range', () => {
    const p = offlinePlc(tankSimulatorConfig());
    p.writeTag('level_high_sp', 4.8);
    const s = run(p, 0.5);
    expect(Math.max(...s.level)).toBeGreaterThan(4.5);
    expect(Math.max(...s.level_high_alarm)).toBe(1);
    expect(Math.max(...s.alarm_horn)).toBe(1);
  });

  it('time_scale runs the plant faster; word_order little swaps the words of 32-bit values', () => {
    const fast = offlinePlc(tankSimulatorConfig({ time_scale: 10 }));
    const s = run(fast, 0.1);
    expect(s.pump_starts[s.pump_starts.length - 1]).toBeGreaterThan(2);
    const little = offlinePlc({ plcs: [{ id: 'x', model: { type: 'tank', word_order: 'little' } }] });
    little.step(100);
    const level = (little.model as TankModel).level;
    expect(float32([little.image.input[0], little.image.input[1]], 'little')).toBeCloseTo(level, 1);
  });
});

describe('bench model', () => {
  it('drifts every register slowly inside its range and never sticks', () => {
    const plc = offlinePlc(benchSimulatorConfig({ registers: 100 }));
    const s = run(plc, 0.5, 1000);
    const bad: string[] = [];
    for (const t of plc.model.tags) {
      const v = s[t.name];
      if (Math.min(...v) < 590 || Math.max(...v) > 1410) bad.push(`${t.name} range ${Math.min(...v)}..${Math.max(...v)}`);
      if (longestRun(v) > 6) bad.push(`${t.name} stuck for ${longestRun(v)} s`);
      for (let i = 1; i < v.length; i++) if (Math.abs(v[i] - v[i - 1]) >= 60) bad.push(`${t.name} jumps at ${i} s`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(plc.model.sizes.holding_registers).toBe(100);
  });
});
