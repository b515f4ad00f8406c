// Runs the real agent (runAgent) in its own process under a given config and reports, as one JSON
// line on stdout, what it cost: CPU seconds per second, peak RSS, samples/s and schedule keeping.
// Usage: node dist/bench/agent-child.js CONFIG WARMUP_S MEASURE_S
import v8 from 'node:v8';
import { loadConfig } from '../agent/config/load.js';
import { silentLogger } from '../protocols/log.js';
import { runAgent } from '../agent/runtime.js';

export interface AgentLoadFigures {
  seconds: number;
  cpu_s_per_s: number;
  rss_mb_peak: number;
  heap_mb: number;
  samples_per_s: number;
  /** samples of good quality (the others are timeouts and errors) */
  good_samples_per_s: number;
  cycles: number;
  skipped_cycles: number;
  failed_cycles: number;
  rule_evaluations_per_s: number;
  signals: number;
}

async function main(): Promise<void> {
  const [file, warmupArg, measureArg] = process.argv.slice(2);
  const warmup = Number(warmupArg ?? 3) * 1000;
  const measure = Number(measureArg ?? 10) * 1000;
  const loaded = loadConfig(file);
  const agent = await runAgent(loaded, { logger: silentLogger });
  // Count good samples on their way into the judge (the judge counts every sample).
  let good = 0;
  const judgeCycle = agent.judge.onCycle.bind(agent.judge);
  agent.judge.onCycle = (out) => {
    for (const s of out.samples) if (s.quality === 'good') good++;
    judgeCycle(out);
  };
  await new Promise((r) => setTimeout(r, warmup));
  const sum = () => {
    let cycles = 0, skipped = 0, failed = 0;
    for (const s of agent.schedulers.values()) {
      cycles += s.health.cycles;
      skipped += s.health.skipped_cycles;
      failed += s.health.failed_cycles;
    }
    return { cycles, skipped, failed, samples: agent.judge.counters.samples, evaluations: agent.judge.engineStats().evaluations, signals: agent.judge.counters.signals, good };
  };
  const before = sum();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let rssPeak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 250);
  await new Promise((r) => setTimeout(r, measure));
  clearInterval(sampler);
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const after = sum();
  const figures: AgentLoadFigures = {
    seconds: Number(secs.toFixed(2)),
    cpu_s_per_s: Number(((cpu.user + cpu.system) / 1e6 / secs).toFixed(4)),
    rss_mb_peak: Math.round(rssPeak / 1048576),
    heap_mb: Math.round(process.memoryUsage().heapUsed / 1048576),
    samples_per_s: Math.round((after.samples - before.samples) / secs),
    good_samples_per_s: Math.round((after.good - before.good) / secs),
    cycles: after.cycles - before.cycles,
    skipped_cycles: after.skipped - before.skipped,
    failed_cycles: after.failed - before.failed,
    rule_evaluations_per_s: Math.round((after.evaluations - before.evaluations) / secs),
    signals: after.signals - before.signals,
  };
  process.stdout.write(JSON.stringify(figures) + '\n');
  // Profiling: what is alive in the agent's heap at the end of the measured window.
  if (process.env.OTSENTRY_BENCH_HEAP_SNAPSHOT) v8.writeHeapSnapshot(process.env.OTSENTRY_BENCH_HEAP_SNAPSHOT);
  await agent.stop();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`agent-child: ${(e as Error).message}\n`);
  process.exit(1);
});
