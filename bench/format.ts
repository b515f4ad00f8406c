// How the benchmark prints figures: number formats, table rows and the one-line summary of a load step.
import type { StepResult } from './load.js';

export const n = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
export const pct = (x: number, digits = 1): string => `${n(x * 100, digits)}%`;
export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Samples handled per second of the agent's own CPU time: compares across machines and loads. */
export const perCpuS = (samplesPerS: number, cpuSPerS: number): number => (cpuSPerS > 0 ? samplesPerS / cpuSPerS : NaN);
export const row = (label: string, value: string, note = ''): string => `  ${label.padEnd(34)} ${value.padStart(16)}${note ? `   ${note}` : ''}`;

export function stepLine(r: StepResult): string {
  const s = r.step;
  return (
    `  ${String(s.devices).padStart(3)} x ${String(s.registers).padStart(3)} reg / ${String(s.intervalMs).padStart(3)} ms` +
    `  target ${n(r.target_registers_per_s).padStart(9)}/s  good ${n(r.good_samples_per_s).padStart(9)}/s (${pct(r.good_share)})` +
    `  skipped ${pct(r.skipped_share, 2).padStart(6)}  failed ${String(r.failed_cycles).padStart(4)}` +
    `  agent ${n(r.cpu_s_per_s, 3)} CPU-s/s ${String(r.rss_mb_peak).padStart(3)} MB ${n(perCpuS(r.samples_per_s, r.cpu_s_per_s)).padStart(9)} samples/CPU-s` +
    `  sim ${n(r.sim_cpu_s_per_s, 2)} CPU-s/s  ${r.sustained ? 'sustained' : 'NOT sustained'}`
  );
}
