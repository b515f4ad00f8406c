#!/usr/bin/env node
// The `otsentry` command line: run, validate, simulate, demo. Every user error ends in one clear
// message and a non-zero exit code, never a stack trace.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, formatProblems, loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { parseDuration } from './duration.js';
import { packageVersion } from './package.js';
import { runAgent } from './runtime.js';
import { simulateModbus } from '../simulators/modbus/cli.js';
import { runDemo } from './demo/demo.js';

/** An error meant for the user: its message is printed as is. */
export class UsageError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

function durationArg(v: string): number {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${v}' is not a whole number`);
  return n;
}

/** Resolves when SIGINT or SIGTERM arrives. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function buildProgram(): Command {
  const program = new Command('otsentry')
    .description('OT security monitoring edge agent: read-only polling, local detection, durable MQTT risk signals')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('validate')
    .description('check a config file; prints every problem as `path: message` and exits 1 when there is any')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .action((opts: { config: string }) => {
      const loaded = loadConfig(opts.config);
      const c = loaded.config;
      const tags = c.devices.reduce((n, d) => n + d.tags.length, 0);
      process.stdout.write(`${loaded.file}: valid (${c.devices.length} device${c.devices.length === 1 ? '' : 's'}, ${tags} tags, ${c.rules.length} rules)\n`);
    });

  program
    .command('run')
    .description('run the agent daemon')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .action(async (opts: { config: string }) => {
      const loaded = loadConfig(opts.config);
      const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? loaded.config.agent.log_level);
      const agent = await runAgent(loaded, { logger });
      const sig = await untilSignal();
      logger.info({ signal: sig }, 'Stopping.');
      await agent.stop();
    });

  const simulate = program.command('simulate').description('start a bundled PLC simulator');
  simulate
    .command('modbus')
    .description('Modbus TCP / RTU-over-TCP PLC simulator (tank process model) with attack scenarios')
    .option('-c, --config <file>', 'simulator config (YAML); the PLC flags below are then ignored, --scenario is added to its timeline')
    .option('--plcs <n>', 'number of PLCs', intArg, 1)
    .option('--port <port>', 'first TCP port (0 = free ports)', intArg, 5020)
    .option('--framing <framing>', 'tcp or rtu_over_tcp', 'tcp')
    .option('--model <model>', 'tank or bench', 'tank')
    .option('--registers <n>', 'holding registers per PLC for the bench model', intArg, 100)
    .option('--scenario <name>', 'attack scenario to start on the first PLC')
    .option('--at <duration>', 'when the scenario starts, e.g. 10s', '10s')
    .option('--duration <duration>', 'how long the scenario lasts, e.g. 30s (default: until stopped)')
    .action(async (opts) => {
      const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'info');
      const handle = await simulateModbus({ ...opts, logger });
      await untilSignal();
      await handle.stop();
    });

  program
    .command('demo')
    .description('simulators + an embedded MQTT broker + the agent + a live view of the risk signals')
    .option('--broker <url>', 'use this MQTT broker instead of the embedded one')
    .option('--scenario <name>', 'attack scenario, started after about 10 s of normal operation')
    .option('--duration <duration>', 'stop after this long and exit 0, e.g. 30s', durationArg)
    .option('--plcs <n>', 'number of simulated PLCs', intArg, 2)
    .option('--data-dir <dir>', 'where the demo agent keeps its outbox (default: a temporary folder)')
    .option('--json', 'print each risk signal as one JSON line instead of the table view')
    .action(async (opts) => {
      await runDemo({ broker: opts.broker, scenario: opts.scenario, durationMs: opts.duration, plcs: opts.plcs, dataDir: opts.dataDir, json: Boolean(opts.json), stopSignal: untilSignal() });
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.file}: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}\n${formatProblems(e.problems)}\n`);
      return 1;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`otsentry: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as Error & { code?: string };
    // Known operational errors carry a code and a message written for users.
    if (err && typeof err.code === 'string' && err.message) {
      process.stderr.write(`otsentry: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`otsentry: unexpected error: ${err?.message ?? String(e)}\nPlease report this with the command you ran.\n`);
    if (process.env.OTSENTRY_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return 70;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 70;
  },
);
