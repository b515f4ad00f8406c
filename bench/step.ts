// One or more load steps of the agent benchmark on their own, for profiling and A/B runs:
//   node dist/bench/step.js [--rules] [--repeat N] [--warmup S] [--measure S] 100x125@10 150x125@10 ...
// (DEVICES x REGISTERS @ INTERVAL_MS). OTSENTRY_BENCH_AGENT_FLAGS passes node flags to the agent
// process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--trace-gc". Prints one line per run.
import { benchSimulatorConfig } from '../simulators/modbus/index.js';
import { stepLine } from './format.js';
import { runStep, type LoadStep } from './load.js';
import { killAll, startBroker, startSimulator } from './procs.js';

function parseArgs(argv: string[]): { steps: LoadStep[]; repeat: number; warmupS: number; measureS: number } {
  const steps: LoadStep[] = [];
  let rules = false;
  let repeat = 1;
  let warmupS = 2;
  let measureS = 5;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (what: string): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${what}: give a positive number, not '${argv[i] ?? ''}'`);
      return v;
    };
    if (a === '--rules') rules = true;
    else if (a === '--repeat') repeat = num('--repeat');
    else if (a === '--warmup') warmupS = num('--warmup');
    else if (a === '--measure') measureS = num('--measure');
    else {
      const m = /^(\d+)x(\d+)@(\d+)$/.exec(a);
      if (!m) throw new Error(`${a}: give a step as DEVICESxREGISTERS@INTERVAL_MS, e.g. 100x125@10`);
      steps.push({ devices: Number(m[1]), registers: Number(m[2]), intervalMs: Number(m[3]) });
    }
  }
  if (steps.length === 0) throw new Error('give at least one step, e.g. 100x125@10');
  return { steps: steps.map((s) => ({ ...s, rules })), repeat, warmupS, measureS };
}

async function main(): Promise<void> {
  const { steps, repeat, warmupS, measureS } = parseArgs(process.argv.slice(2));
  const plcs = Math.max(...steps.map((s) => s.devices));
  const registers = Math.max(...steps.map((s) => s.registers));
  const broker = await startBroker();
  const sim = await startSimulator(benchSimulatorConfig({ plcs, registers }));
  try {
    for (let k = 0; k < repeat; k++) {
      for (const step of steps) process.stdout.write(stepLine(await runStep(sim, broker.url, step, warmupS, measureS)) + (step.rules ? '  (rules)' : '') + '\n');
    }
  } finally {
    await sim.stop();
    await broker.stop();
  }
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`bench step: ${(e as Error).message}\n`);
    killAll();
    process.exit(1);
  },
);
