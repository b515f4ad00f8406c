// Learning benchmark: what knowing when learning is done costs. A day of one-second polls of one
// device with 25 tags (cycles, steps, noise, constants, discrete states) goes through the learner;
// measured: ingest per sample (with the per-tag envelope summaries), the envelope summary alone,
// judging every tag's convergence (progress lines and --until-stable do it every second), and
// counting rules so far on 2000 spaced cycles against the whole table (what a progress line would
// hold the polls up for). Prints nothing; returns figures.
import { performance } from 'node:perf_hooks';
import { EnvelopeTracker } from '../rules/learn/envelope.js';
import { Learner } from '../rules/learn/learner.js';
import type { Sample } from '../protocols/types.js';

export interface LearnBenchResult {
  cycles: number;
  tags: number;
  ingest_ns_per_sample: number;
  envelope_ns_per_sample: number;
  convergence_ms: number;
  rules_so_far_ms: number;
  rules_so_far_full_ms: number;
  rules_so_far: number;
  rules_so_far_full: number;
  result_ms: number;
  rules: number;
  converged: number;
}

/** Best of a few runs (the least disturbed by other work on the machine). */
function best(runs: number, fn: () => void): number {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

export function runLearnBench(o: { cycles?: number; tags?: number } = {}): LearnBenchResult {
  const cycles = o.cycles ?? 86_400;
  const tags = Array.from({ length: o.tags ?? 25 }, (_, i) => ({ name: `t${i}` }));
  const learner = new Learner([{ id: 'plc', tags }]);
  const T0 = Date.parse('2025-05-01T00:00:00Z');
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5) * 0.1;
  const value = (j: number, i: number) => (j < 5 ? (i >> 6) % 3 : j < 8 ? 1 : j < 10 ? (i < cycles / 2 ? 10 : 20) + noise() : 10 + j * Math.sin(i / (100 * (j + 1))) + noise());
  const t0 = performance.now();
  for (let i = 0; i < cycles; i++) {
    const ts = T0 + i * 1000;
    const samples: Sample[] = tags.map((t, j) => ({ device: 'plc', tag: t.name, value: value(j, i), quality: 'good', ts, rtt_ms: 1 }));
    learner.cycle({ device: 'plc', samples, facts: [{ device: 'plc', kind: 'link', ts, data: { ok: true, rtt_ms: 1 } }], skipped_cycles: 0 });
  }
  const ingest = performance.now() - t0;
  const n = cycles * tags.length;
  const env = new EnvelopeTracker();
  const envMs = best(3, () => {
    for (let i = 0; i < n; i++) env.add(10 + ((i * 7919) % 1000) / 100, T0 + i);
  });
  let verdicts = learner.convergence();
  const convergence = best(5, () => (verdicts = learner.convergence()));
  let soFar = 0, full = 0;
  const soFarMs = best(3, () => (soFar = learner.rulesSoFar()));
  const fullMs = best(1, () => (full = learner.rulesSoFar(Infinity)));
  const r0 = performance.now();
  const result = learner.result();
  return {
    cycles,
    tags: tags.length,
    ingest_ns_per_sample: (ingest * 1e6) / n,
    envelope_ns_per_sample: (envMs * 1e6) / n,
    convergence_ms: convergence,
    rules_so_far_ms: soFarMs,
    rules_so_far_full_ms: fullMs,
    rules_so_far: soFar,
    rules_so_far_full: full,
    result_ms: performance.now() - r0,
    rules: result.rules.length,
    converged: verdicts.filter((v) => v.converged).length,
  };
}
