// Rule engine benchmark: rule evaluations per second for about five rules per tag over a synthetic
// stream of 100 devices x 100 tags, through the agent's cycle judge (engine, alert stage, built-in
// rules). Prints nothing; returns figures.
//
// Each device has 70 analog tags (range, high-high range, rate, stuck, low-low range), 20 discrete
// tags (allowed values, toggle count, range, rate, second allowed-values list) and 10 setpoints
// (integrity, range, rate, high-high range, toggle count), plus availability, exceptions,
// diagnostics, identity and two cross-tag expressions per device.
import { performance } from 'node:perf_hooks';
import { AlertManager } from '../rules/alerts/manager.js';
import type { Fact, Sample } from '../protocols/types.js';
import { RuleEngine } from '../rules/engine.js';
import { CycleJudge, type Cycle } from '../rules/judge/index.js';
import type { DeviceRef } from '../rules/types.js';

export interface RulesBenchOptions {
  devices?: number;
  /** multiple of 10; 70% analog, 20% discrete, 10% setpoints */
  tagsPerDevice?: number;
  /** measured poll cycles of every device */
  cycles?: number;
  warmupCycles?: number;
  /** one analog sample in this many is a spike (out of range, too fast), so findings and alerts are exercised; 0 = none */
  spikeEvery?: number;
}

export interface RulesBenchResult {
  devices: number;
  tags: number;
  /** rule entries in the config */
  rules: number;
  /** detector evaluations per sample (rules per tag) */
  rules_per_tag: number;
  samples: number;
  evaluations: number;
  findings: number;
  signals: number;
  seconds: number;
  samples_per_s: number;
  evaluations_per_s: number;
  /** engine + alert stage cost per sample, the loop that feeds them subtracted */
  ns_per_sample: number;
  ns_per_evaluation: number;
  /** share of one CPU core the rules take at 100,000 samples/s */
  core_share_at_100k_samples_per_s: number;
  /** milliseconds to validate and build the engine */
  build_ms: number;
}

function ranges(n: number): { analog: string[]; discrete: string[]; setpoints: string[] } {
  const a = Math.round(n * 0.7);
  const d = Math.round(n * 0.2);
  const names = Array.from({ length: n }, (_, i) => `t${i}`);
  return { analog: names.slice(0, a), discrete: names.slice(a, a + d), setpoints: names.slice(a + d) };
}

function rulesFor(dev: string, t: ReturnType<typeof ranges>): unknown[] {
  const baseline = Object.fromEntries(t.setpoints.map((s, i) => [s, 100 + i]));
  const r = (id: string, o: Record<string, unknown>) => ({ id: `${dev}.${id}`, device: dev, ...o });
  return [
    r('range', { type: 'range', tags: t.analog, min: -10, max: 110 }),
    r('range-hh', { type: 'range', tags: t.analog, max: 105, hysteresis: 1, severity: 'high' }),
    r('rate', { type: 'rate', tags: t.analog, max_per_s: 40, hold_ms: 5000 }),
    r('stuck', { type: 'stuck', tags: t.analog, duration_ms: 60_000 }),
    r('range-ll', { type: 'range', tags: t.analog, min: -20 }),
    r('states', { type: 'allowed_values', tags: t.discrete, values: [0, 1] }),
    r('toggles', { type: 'rate', tags: [...t.discrete, ...t.setpoints], max_changes: 3, window_ms: 60_000 }),
    r('range-d', { type: 'range', tags: [...t.discrete, ...t.setpoints], min: 0, max: 200 }),
    r('rate-d', { type: 'rate', tags: [...t.discrete, ...t.setpoints], max_per_s: 1000 }),
    r('states-2', { type: 'allowed_values', tags: t.discrete, values: [0, 1, 2] }),
    r('config', { type: 'integrity', baseline }),
    r('sp-hh', { type: 'range', tags: t.setpoints, max: 190 }),
    r('link', { type: 'availability' }),
    r('answers', { type: 'exceptions' }),
    r('counters', { type: 'diagnostics' }),
    r('identity', { type: 'identity' }),
    r('x1', { type: 'expression', expr: `${t.discrete[0]} == 1 implies ${t.analog[0]} > -50` }),
    r('x2', { type: 'expression', expr: `abs(${t.analog[1]} - ${t.analog[2]}) < 500 and ${t.setpoints[0]} >= 0` }),
  ];
}

/** Standard normal noise, precomputed so the stream costs little next to the rules. */
function noiseTable(n: number): Float64Array {
  let s = 12345;
  const u = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) || 1e-9;
  return Float64Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

export function runRulesBench(opts: RulesBenchOptions = {}): RulesBenchResult {
  const nDev = opts.devices ?? 100;
  const nTags = opts.tagsPerDevice ?? 100;
  const cycles = opts.cycles ?? 60;
  const warmup = opts.warmupCycles ?? 10;
  const spikeEvery = opts.spikeEvery ?? 20_000;
  const t = ranges(nTags);
  const devices: DeviceRef[] = Array.from({ length: nDev }, (_, d) => ({ id: `plc${d}`, tags: [...t.analog, ...t.discrete, ...t.setpoints].map((name) => ({ name })) }));
  const rules = devices.flatMap((d) => rulesFor(d.id, t));
  const b0 = performance.now();
  const engine = new RuleEngine(rules, devices);
  const build = performance.now() - b0;
  const judge = new CycleJudge(engine, new AlertManager({}, { devices: devices.map((d) => d.id) }));

  const t0 = Date.parse('2025-03-01T00:00:00Z');
  const samples: Sample[][] = devices.map((d) => d.tags.map((tag) => ({ device: d.id, tag: tag.name, value: 0, quality: 'good' as const, ts: t0, rtt_ms: 2 })));
  const links: Fact[] = devices.map((d) => ({ device: d.id, kind: 'link', ts: t0, data: { reachable: true, rtt_ms: 2, exception_codes: [], bad_responses: 0, consecutive_failures: 0 } }));
  const diags: Fact[] = devices.map((d) => ({ device: d.id, kind: 'diagnostics', ts: t0, data: { bus_message_count: 0, server_message_count: 0, bus_comm_error_count: 0, agent_requests_total: 0 } }));
  // Each device's cycle, without and with its diagnostics read (every tenth cycle).
  const plain: Cycle[] = devices.map((d, i) => ({ device: d.id, samples: samples[i], facts: [links[i]], skipped_cycles: 0 }));
  const withDiag: Cycle[] = devices.map((d, i) => ({ device: d.id, samples: samples[i], facts: [diags[i], links[i]], skipped_cycles: 0 }));
  const noise = noiseTable(1 << 16);
  const nA = t.analog.length;
  const nD = t.discrete.length;
  let ni = 0;
  let spike = 0;

  /** Fill one cycle's values into the sample objects (the poller's work, not measured). */
  const fill = (c: number, d: number): void => {
    const row = samples[d];
    const ts = t0 + c * 1000;
    for (let i = 0; i < row.length; i++) {
      const s = row[i];
      s.ts = ts + i;
      if (i < nA) s.value = spikeEvery > 0 && ++spike % spikeEvery === 0 ? 500 : 50 + 20 * Math.sin((c + i) / 50) + noise[ni++ & 0xffff];
      else if (i < nA + nD) s.value = ((c >> 7) + i) & 1;
      else s.value = 100 + (i - nA - nD);
    }
  };

  const cycle = (c: number, judging: boolean): void => {
    for (let d = 0; d < nDev; d++) {
      fill(c, d);
      const ts = t0 + c * 1000 + 500;
      if (c % 10 === 0) {
        const g = diags[d];
        g.ts = ts;
        g.data.bus_message_count = g.data.server_message_count = g.data.agent_requests_total = (c * 12) & 0xffff;
      }
      const l = links[d];
      l.ts = ts + 1;
      l.data.rtt_ms = 2 + 0.2 * noise[ni++ & 0xffff];
      if (judging) judge.judge(c % 10 === 0 ? withDiag[d] : plain[d]);
    }
  };

  for (let c = 0; c < warmup; c++) cycle(c, true);
  // The feeding loop alone, to subtract.
  let f0 = performance.now();
  for (let c = warmup; c < warmup + cycles; c++) cycle(c, false);
  const feedMs = performance.now() - f0;
  const before = engine.stats();
  const { findings: findings0, drafts: drafts0 } = judge.counts;
  f0 = performance.now();
  for (let c = warmup + cycles; c < warmup + 2 * cycles; c++) cycle(c, true);
  const totalMs = performance.now() - f0;
  const after = engine.stats();
  const findings = judge.counts.findings - findings0;
  const signals = judge.counts.drafts - drafts0;

  const nSamples = after.samples - before.samples;
  const evals = after.evaluations - before.evaluations;
  const rulesMs = Math.max(totalMs - feedMs, 1e-6);
  const nsPerSample = (rulesMs * 1e6) / nSamples;
  return {
    devices: nDev,
    tags: nDev * nTags,
    rules: rules.length,
    rules_per_tag: Number((evals / nSamples).toFixed(2)),
    samples: nSamples,
    evaluations: evals,
    findings,
    signals,
    seconds: Number((rulesMs / 1000).toFixed(3)),
    samples_per_s: Math.round(nSamples / (rulesMs / 1000)),
    evaluations_per_s: Math.round(evals / (rulesMs / 1000)),
    ns_per_sample: Number(nsPerSample.toFixed(1)),
    ns_per_evaluation: Number(((rulesMs * 1e6) / evals).toFixed(1)),
    core_share_at_100k_samples_per_s: Number(((nsPerSample * 1e5) / 1e9).toFixed(4)),
    build_ms: Math.round(build),
  };
}
