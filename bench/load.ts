// Load steps of the agent benchmark: agent configs for N bench PLCs x R registers every I ms (with or
// without about five rules per tag), one run of the real agent process per step, and the ceiling search.
import fs from 'node:fs';
import path from 'node:path';
import type { PlcInfo } from '../simulators/modbus/plc.js';
import { runAgentChild, tempDir, type AgentRun, type SimulatorChild } from './procs.js';

export interface LoadStep {
  devices: number;
  registers: number;
  intervalMs: number;
  rules?: boolean;
}

export interface StepResult extends AgentRun {
  step: LoadStep;
  target_registers_per_s: number;
  /** poll slots the measured window held (devices x seconds / interval) */
  slots: number;
  skipped_share: number;
  good_share: number;
  sustained: boolean;
}

/** Registers read per second at a step. */
export const targetRate = (s: LoadStep): number => Math.round((s.devices * s.registers * 1000) / s.intervalMs);

/**
 * About five rules per tag for the bench PLC's registers (1000 +- 400, slow sine plus noise, one model
 * step a second): none of them fires on normal data, each would catch a spoofed, frozen or tampered
 * value. The registers are analog, so the whitelist-type rule is a change count (as for a mode or a
 * pump command): an allowed_values list would have to enumerate every value they take.
 */
export function benchRules(device: string, registers: number): unknown[] {
  const tags = Array.from({ length: registers }, (_, i) => `reg_${i}`);
  const r = (id: string, o: Record<string, unknown>) => ({ id: `${device}.${id}`, device, ...o });
  return [
    r('range', { type: 'range', tags, min: 0, max: 2000 }),
    r('range-hh', { type: 'range', tags, max: 1700, hysteresis: 10, severity: 'high' }),
    // A model step is at most about 60 within one 100 ms poll (600/s); a spoof jumps further.
    r('rate', { type: 'rate', tags, max_per_s: 5000, hold_ms: 5000 }),
    // The noise makes an exact repeat over 30 model steps practically impossible.
    r('stuck', { type: 'stuck', tags, duration_ms: 30_000 }),
    // At most one model step a second: more than 20 changes in 10 s means a second writer.
    r('changes', { type: 'rate', tags, max_changes: 20, window_ms: 10_000, category: 'whitelist' }),
    // The round-trip time here includes the agent's own queueing of 100 answers arriving together.
    r('link', { type: 'availability', rtt_min_margin_ms: 100 }),
    r('answers', { type: 'exceptions' }),
  ];
}

/** Agent config (JSON, which is YAML) for the first `devices` PLCs. */
export function agentConfig(plcs: PlcInfo[], step: LoadStep, brokerUrl: string, dataDir: string): unknown {
  if (plcs.length < step.devices) throw new Error(`load step needs ${step.devices} PLCs; the simulator has ${plcs.length}`);
  const requests = Math.ceil(step.registers / 125);
  const devices = plcs.slice(0, step.devices).map((p) => ({
    id: p.id,
    protocol: 'modbus',
    transport: { type: 'tcp', host: p.host, port: p.port },
    unit_id: p.unit_id,
    interval_ms: step.intervalMs,
    // The config check wants requests x timeout within the interval.
    timeout_ms: Math.max(10, Math.min(1000, Math.floor(step.intervalMs / requests))),
    identity_interval_ms: 0,
    diagnostics_interval_ms: 0,
    tags: Array.from({ length: step.registers }, (_, i) => ({ name: `reg_${i}`, area: 'holding_register', address: i, type: 'uint16' })),
  }));
  return {
    agent: { id: 'bench', site: 'bench', data_dir: dataDir, log_level: 'warn' },
    broker: { url: brokerUrl, topic_prefix: 'otsentry-bench' },
    devices,
    rules: step.rules ? devices.flatMap((d) => benchRules(d.id, step.registers)) : [],
  };
}

/** One run of the real agent process at a step; sustained = skipped < 1% and good samples >= 98%. */
export async function runStep(sim: SimulatorChild, brokerUrl: string, step: LoadStep, warmupS: number, measureS: number): Promise<StepResult> {
  const dir = tempDir('agent');
  const file = path.join(dir, 'agent.json');
  fs.writeFileSync(file, JSON.stringify(agentConfig(sim.plcs, step, brokerUrl, path.join(dir, 'data'))));
  try {
    const r = await runAgentChild(file, warmupS, measureS, sim.child);
    const target = targetRate(step);
    const slots = (step.devices * r.seconds * 1000) / step.intervalMs;
    const skippedShare = r.skipped_cycles / slots;
    const goodShare = r.good_samples_per_s / target;
    return {
      ...r,
      step,
      target_registers_per_s: target,
      slots: Math.round(slots),
      skipped_share: Number(skippedShare.toFixed(4)),
      good_share: Number(goodShare.toFixed(4)),
      sustained: skippedShare < 0.01 && goodShare >= 0.98,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface CeilingResult {
  steps: StepResult[];
  /** highest sustained registers/s, 0 when none was */
  ceiling_registers_per_s: number;
  /** most good samples/s any step delivered, on schedule or not */
  max_good_samples_per_s: number;
  seconds: number;
}

/**
 * Steps up the load; a step that is not sustained is retried once (a noisy neighbour), and the search
 * stops after two steps in a row that are not, or when the time budget is spent. The ceiling is the
 * highest sustained step.
 */
export async function ceilingSearch(
  sim: SimulatorChild,
  brokerUrl: string,
  steps: LoadStep[],
  opts: { warmupS: number; measureS: number; budgetS: number; onStep?: (r: StepResult) => void },
): Promise<CeilingResult> {
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const out: StepResult[] = [];
  let best = 0;
  let failures = 0;
  for (const step of steps) {
    if (elapsed() > opts.budgetS || failures >= 2) break;
    let r = await runStep(sim, brokerUrl, step, opts.warmupS, opts.measureS);
    opts.onStep?.(r);
    out.push(r);
    if (!r.sustained && elapsed() < opts.budgetS) {
      r = await runStep(sim, brokerUrl, step, opts.warmupS, opts.measureS);
      opts.onStep?.(r);
      out.push(r);
    }
    if (r.sustained) best = Math.max(best, r.target_registers_per_s);
    failures = r.sustained ? 0 : failures + 1;
  }
  const maxGood = Math.max(0, ...out.map((r) => r.good_samples_per_s));
  return { steps: out, ceiling_registers_per_s: best, max_good_samples_per_s: maxGood, seconds: Math.round(elapsed()) };
}
