// `otsentry simulate modbus`: start the simulator from a config file or from flags, print one line per
// PLC, run the scenario timeline. The caller (agent/cli.ts) stops the returned handle on SIGINT.
import type { Logger } from '../../protocols/log.js';
import { loadSimulatorConfig, parseSimulatorConfig, type SimulatorConfigInput } from '../../simulators/modbus/config.js';
import { DURATION_HINT, parseDuration } from '../../simulators/modbus/duration.js';
import { FRAMINGS, type Framing } from '../../simulators/modbus/framing.js';
import { MODEL_TYPES, type ModelType } from '../../simulators/modbus/models/index.js';
import { findScenario, SCENARIO_NAMES } from '../../simulators/modbus/scenarios/index.js';
import { benchSimulatorConfig, startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { OperationalError } from '../../protocols/errors.js';

export interface SimulateModbusOptions {
  /** simulator config file (YAML/JSON); the PLC flags are then ignored */
  config?: string;
  plcs?: number;
  /** first port; PLC i listens on port + i; 0 = free ports */
  port?: number;
  framing?: Framing | string;
  model?: ModelType | string;
  registers?: number;
  /** play this recording (CSV or JSONL) into the PLCs' registers (model playback) */
  playback?: string;
  /** playback: recording time per plant time (3600 = an hourly row per second) */
  speed?: number;
  /** playback: CSV time format (iso, epoch_s, epoch_ms, 'DD/MM/YY hh') */
  timeFormat?: string;
  /** playback: CSV columns that are not tags */
  ignore?: string[];
  /** scenario started on the first PLC */
  scenario?: string;
  /** when the scenario starts: 10s, 2m, 500ms (default 0) */
  at?: string;
  /** how long it lasts (default: until stopped) */
  duration?: string;
  logger: Logger;
  /** where the PLC lines go (default stdout) */
  out?: (line: string) => void;
}

/** A mistake in the flags or the file, with the fix in the message (no stack trace for users). */
export class SimulateUsageError extends OperationalError {
  constructor(message: string) {
    super('usage', message, 'cli');
  }
}

function intFlag(name: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new SimulateUsageError(`--${name} ${String(v)}: give a whole number from ${min} to ${max}`);
  }
  return n;
}

function durationFlag(name: string, v: string): number {
  const ms = parseDuration(v);
  if (ms === null) throw new SimulateUsageError(`--${name} '${v}' is not a duration; ${DURATION_HINT}`);
  return ms / 1000;
}

function fromFlags(o: SimulateModbusOptions): SimulatorConfigInput {
  const plcs = intFlag('plcs', o.plcs ?? 1, 1, 1000);
  const port = intFlag('port', o.port ?? 5020, 0, 65535);
  if (port !== 0 && port + plcs - 1 > 65535) throw new SimulateUsageError(`--port ${port} with --plcs ${plcs} runs past port 65535; pick a lower --port or 0 for free ports`);
  const framing = o.framing ?? 'tcp';
  if (!(FRAMINGS as readonly string[]).includes(framing)) throw new SimulateUsageError(`--framing ${framing}: use ${FRAMINGS.join(' or ')}`);
  const model = o.model ?? 'tank';
  if (!(MODEL_TYPES as readonly string[]).includes(model)) throw new SimulateUsageError(`--model ${model}: use ${MODEL_TYPES.join(' or ')}`);
  const f = framing as Framing;
  if (o.playback !== undefined || model === 'playback') {
    if (o.playback === undefined) throw new SimulateUsageError('--model playback needs --playback FILE (a CSV or JSONL recording)');
    const cfg = tankSimulatorConfig({ plcs, port, framing: f });
    if (o.speed !== undefined && !(Number.isFinite(o.speed) && o.speed > 0)) throw new SimulateUsageError(`--speed ${o.speed}: give a positive number, e.g. 3600 for an hourly recording played a row per second`);
    const playback = { type: 'playback' as const, file: o.playback, speed: o.speed ?? 1, time_format: o.timeFormat, ignore: o.ignore ?? [] };
    return { ...cfg, plcs: cfg.plcs.map((p, i) => ({ ...p, id: `playback-plc-${i + 1}`, model: playback })) };
  }
  if (model === 'bench') return benchSimulatorConfig({ plcs, port, framing: f, registers: intFlag('registers', o.registers ?? 100, 1, 10000) });
  return tankSimulatorConfig({ plcs, port, framing: f });
}

export async function simulateModbus(opts: SimulateModbusOptions): Promise<ModbusSimulator> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const input: SimulatorConfigInput = opts.config ? loadSimulatorConfig(opts.config) : fromFlags(opts);
  if (opts.scenario !== undefined) {
    const mod = findScenario(opts.scenario);
    if (!mod) throw new SimulateUsageError(`--scenario ${opts.scenario}: unknown; use one of ${SCENARIO_NAMES.join(', ')}`);
    const first = input.plcs[0];
    const model = typeof first.model === 'string' ? first.model : (first.model as { type?: string } | undefined)?.type ?? 'tank';
    if (!(mod.models as readonly string[]).includes(model)) throw new SimulateUsageError(`--scenario ${opts.scenario} needs a ${mod.models.join(' or ')} PLC; use --model ${mod.models[0]}`);
    const at = opts.at === undefined ? 0 : durationFlag('at', opts.at);
    const duration = opts.duration === undefined ? undefined : durationFlag('duration', opts.duration);
    input.scenarios = [...(input.scenarios ?? []), { name: opts.scenario, plc: first.id, at, ...(duration !== undefined ? { duration } : {}) }];
  }
  const cfg = parseSimulatorConfig(input, opts.config ?? 'simulator flags');
  const sim = await startModbusSimulator(cfg, { logger: opts.logger });
  for (const p of sim.plcs) out(`modbus plc ${p.id} listening on ${p.host}:${p.port} (${p.framing}, unit ${p.unit_id}, model ${p.model})`);
  for (const s of cfg.scenarios) out(`scenario ${s.name} on ${s.plc} at ${s.at}s${s.duration !== undefined ? ` for ${s.duration}s` : ' until stopped'}`);
  return sim;
}
