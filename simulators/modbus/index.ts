// Programmatic API of the Modbus PLC simulator: start PLCs from a config, reach their registers,
// run attack scenarios, stop. Plus ready-made configs for tests and load benchmarks.
import { silentLogger, type Logger } from '../../protocols/log.js';
import { parseSimulatorConfig, type ScenarioEntry, type SimulatorConfig, type SimulatorConfigInput } from './config.js';
import type { Framing } from './framing.js';
import { Plc, type PlcInfo } from './plc.js';
import { runScenario, type ScenarioRun } from './scenarios/runner.js';
import { runTimeline, type Timeline } from './timeline.js';
import { OperationalError } from '../../protocols/errors.js';

export interface ModbusSimulator {
  /** every PLC with the port it really listens on */
  readonly plcs: PlcInfo[];
  /** A PLC: register image, counters, identity, process model. Throws for an unknown id. */
  plc(id: string): Plc;
  startScenario(name: string, plcId: string, params?: Record<string, unknown>): Promise<ScenarioRun>;
  /** Stops every active run of that scenario on that PLC; resolves to how many were stopped. */
  stopScenario(name: string, plcId: string): Promise<number>;
  /** runs not yet stopped */
  activeScenarios(): ScenarioRun[];
  /** the config's scenario timeline */
  readonly timeline: Timeline;
  stop(): Promise<void>;
}

export interface SimulatorOptions {
  logger?: Logger;
  /** run the config's scenario timeline (default true) */
  timeline?: boolean;
}

export class SimulatorStartError extends OperationalError {
  constructor(message: string) {
    super('listen_failed', message, 'simulate');
  }
}

export async function startModbusSimulator(config: SimulatorConfigInput | SimulatorConfig, opts: SimulatorOptions = {}): Promise<ModbusSimulator> {
  const cfg = parseSimulatorConfig(config);
  const logger = opts.logger ?? silentLogger;
  const plcs = cfg.plcs.map((c) => new Plc(c, logger.child({ plc: c.id })));
  const started: Plc[] = [];
  for (const [i, p] of plcs.entries()) {
    try {
      await p.start();
      started.push(p);
    } catch (e) {
      await Promise.all(started.map((s) => s.stop()));
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      const c = p.config;
      throw new SimulatorStartError(`plcs[${i}] (${c.id}): cannot listen on ${c.host}:${c.port} (${code}); pick another port, or 0 for a free one`);
    }
  }
  const byId = new Map(plcs.map((p) => [p.id, p]));
  let runs: ScenarioRun[] = [];
  const plc = (id: string): Plc => {
    const p = byId.get(id);
    if (!p) throw new Error(`no PLC with id ${id}; ids: ${[...byId.keys()].join(', ')}`);
    return p;
  };
  let stopped = false;
  const startScenario = async (name: string, plcId: string, params?: Record<string, unknown>): Promise<ScenarioRun> => {
    const run = await runScenario(plc(plcId), name, params);
    // A run that finished starting after stop() began is undone at once.
    if (stopped) await run.stop();
    else runs = [...runs.filter((r) => r.active), run];
    return run;
  };
  const timeline = runTimeline(opts.timeline === false ? [] : cfg.scenarios, (e: ScenarioEntry) => startScenario(e.name, e.plc, e.params), logger);
  for (const p of plcs) {
    const { id, ...where } = p.info();
    logger.info({ plc: id, ...where }, 'Modbus PLC simulator listening.');
  }

  return {
    plcs: plcs.map((p) => p.info()),
    plc,
    startScenario,
    async stopScenario(name, plcId) {
      plc(plcId);
      const hit = runs.filter((r) => r.active && r.name === name && r.plc === plcId);
      await Promise.all(hit.map((r) => r.stop()));
      return hit.length;
    },
    activeScenarios: () => runs.filter((r) => r.active),
    timeline,
    async stop() {
      stopped = true;
      timeline.cancel();
      for (const r of [...runs].reverse()) {
        if (!r.active) continue;
        try {
          await r.stop();
        } catch (err) {
          logger.warn({ err, scenario: r.name, plc: r.plc }, 'Scenario did not stop cleanly.');
        }
      }
      await Promise.all(plcs.map((p) => p.stop()));
    },
  };
}

export interface TankConfigOptions {
  plcs?: number;
  framing?: Framing;
  /** first port; PLC i gets port + i. 0 (default) = free ports */
  port?: number;
  tick_ms?: number;
  response_delay_ms?: number;
  seed?: number;
  time_scale?: number;
  scenarios?: SimulatorConfigInput['scenarios'];
}

/** tank-plc-1..n, each a tank plant on its own port. */
export function tankSimulatorConfig(o: TankConfigOptions = {}): SimulatorConfigInput {
  return {
    plcs: Array.from({ length: o.plcs ?? 1 }, (_, i) => ({
      id: `tank-plc-${i + 1}`,
      port: o.port ? o.port + i : 0,
      framing: o.framing ?? 'tcp',
      model: { type: 'tank' as const, ...(o.time_scale !== undefined ? { time_scale: o.time_scale } : {}) },
      tick_ms: o.tick_ms ?? 100,
      response_delay_ms: o.response_delay_ms ?? 0,
      seed: (o.seed ?? 1) + i,
    })),
    scenarios: o.scenarios ?? [],
  };
}

export interface BenchConfigOptions {
  plcs?: number;
  registers?: number;
  framing?: Framing;
  port?: number;
  tick_ms?: number;
  response_delay_ms?: number;
  seed?: number;
}

/** bench-plc-1..n, each with `registers` slowly drifting holding registers (load tests). */
export function benchSimulatorConfig(o: BenchConfigOptions = {}): SimulatorConfigInput {
  return {
    plcs: Array.from({ length: o.plcs ?? 1 }, (_, i) => ({
      id: `bench-plc-${i + 1}`,
      port: o.port ? o.port + i : 0,
      framing: o.framing ?? 'tcp',
      model: { type: 'bench' as const, registers: o.registers ?? 100 },
      tick_ms: o.tick_ms ?? 1000,
      response_delay_ms: o.response_delay_ms ?? 0,
      seed: (o.seed ?? 1) + i,
    })),
  };
}

export { Plc, type PlcInfo } from './plc.js';
export type { ScenarioRun } from './scenarios/runner.js';
export { SCENARIOS, SCENARIO_NAMES } from './scenarios/index.js';
export { loadSimulatorConfig, parseSimulatorConfig, SimulatorConfigError, type SimulatorConfig, type SimulatorConfigInput } from './config.js';
export { tankTags } from './models/tank.js';
export { benchTags } from './models/bench.js';
export type { TagDef } from './tags.js';
