// Helpers for rule tests: a tank device, sample/fact builders and a driver that collects findings.
import { RuleEngine } from '../../rules/engine.js';
import type { DeviceRef, Finding } from '../../rules/types.js';
import type { Fact, Quality, Sample } from '../../protocols/types.js';

export const TANK_TAGS = ['level', 'pump', 'pump_run', 'flow', 'valve', 'sp_level', 'kp', 'ki', 'mode', 'temp', 'pressure', 'heartbeat', 'flow-in', 'fw_name'];
export const devices: DeviceRef[] = [
  { id: 'tank1', tags: TANK_TAGS.map((name) => ({ name })) },
  { id: 'tank2', tags: TANK_TAGS.map((name) => ({ name })) },
];

export const T0 = Date.parse('2025-03-01T08:00:00Z');

export function sample(tag: string, value: Sample['value'], ts: number, device = 'tank1', quality: Quality = 'good'): Sample {
  return { device, tag, value, quality, ts, rtt_ms: 5 };
}

export function fact(kind: Fact['kind'], data: Record<string, unknown>, ts: number, device = 'tank1'): Fact {
  return { device, kind, ts, data };
}

export function link(ts: number, data: Partial<{ reachable: boolean; rtt_ms: number | null; error_code: string; exception_codes: number[]; bad_responses: number }> = {}, device = 'tank1'): Fact {
  return fact('link', { reachable: true, rtt_ms: 5, exception_codes: [], bad_responses: 0, consecutive_failures: 0, ...data }, ts, device);
}

export function engine(rules: unknown[]): RuleEngine {
  return new RuleEngine(rules, devices);
}

/** Feed [tag, value] pairs of one tag as samples 1 s apart; returns every finding. */
export function feed(e: RuleEngine, tag: string, values: Sample['value'][], step = 1000, start = T0): Finding[] {
  const out: Finding[] = [];
  values.forEach((v, i) => out.push(...e.onSample(sample(tag, v, start + i * step))));
  return out;
}

/** Compact view of findings: 'R@i' raise at sample index i, 'C@i' clear. */
export function marks(fs: Finding[], step = 1000, start = T0): string[] {
  return fs.map((f) => `${f.active ? 'R' : 'C'}@${(f.ts - start) / step}${f.tag && f.tag !== 'level' ? `:${f.tag}` : ''}${f.condition ? `:${f.condition}` : ''}`);
}
