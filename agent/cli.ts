#!/usr/bin/env node
// The `otsentry` command line: run, validate, trust, simulate, demo, record, learn, replay, verify,
// central, schema. Every user error ends in one clear message and a non-zero exit code, never a
// stack trace.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, formatProblems, loadConfig } from './config/load.js';
import { rulesFileWarnings } from './config/warnings.js';
import { createLogger } from '../protocols/log.js';
import { parseDuration } from '../protocols/duration.js';
import { packageVersion } from '../protocols/package.js';
import { runAgent } from './runtime.js';
// Commands load their heavy parts (simulators, OPC UA, demo) only when they run: `run` and
// `validate` stay small and start fast.
import { addDataCommands } from './cli/record.js';
import { addVerifyCommands } from './cli/verify.js';
import { addOutboxCommands } from './cli/outbox.js';
import { RecordingWriter } from './record/record.js';
import { loadBaseline } from './approve/baseline.js';
import { addApproveCommands } from './cli/approve.js';
import { addCentralCommands } from './cli/central.js';
import { addSchemaCommand } from './cli/schema.js';
import { addHashPasswordCommand } from './central/console/hash-password.js';
import { ExitStatus } from '../rules/replay/report.js';
import { OperationalError } from '../protocols/errors.js';

/** An error meant for the user: its message is printed as is. */
export class UsageError extends OperationalError {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super('usage', message, 'cli');
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

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${v}' is not a whole number`);
  return n;
}

/** `run` exits at most this long after SIGTERM/SIGINT, whatever the broker and PLCs do. */
const STOP_BOUND_MS = 5000;

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
    .option('-r, --rules <file>', 'also check this rules file, e.g. a learned baseline (repeatable)', collect)
    .action((opts: { config: string; rules?: string[] }) => {
      const loaded = loadConfig(opts.config);
      const c = loaded.config;
      // What the agent would enforce: the rules files and the approvals in force over them.
      const baseline = loadBaseline(loaded.file, c.rules, opts.rules ?? [], c.devices, Date.now());
      c.rules = baseline.rules;
      for (const s of baseline.skipped) process.stderr.write(`warning: ${s.approval.id}: approval of ${s.approval.rule} is not applied: ${s.why}\n`);
      for (const w of [...loaded.warnings, ...rulesFileWarnings(opts.rules)]) process.stderr.write(`warning: ${formatProblems([w])}\n`);
      const tags = c.devices.reduce((n, d) => n + d.tags.length, 0);
      process.stdout.write(`${loaded.file}: valid (${c.devices.length} device${c.devices.length === 1 ? '' : 's'}, ${tags} tags, ${c.rules.length} rules${baseline.approvals.length > 0 ? `, ${baseline.approvals.length} approval${baseline.approvals.length === 1 ? '' : 's'} in force` : ''})\n`);
    });

  program
    .command('run')
    .description('run the agent daemon')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('-r, --rules <file>', 'also enforce this rules file, e.g. an approved baseline from `otsentry learn` (repeatable)', collect)
    .option('--record <file>', 'also write every poll cycle to this JSONL recording')
    .action(async (opts: { config: string; rules?: string[]; record?: string }) => {
      // Everything the daemon creates (outbox, its -wal/-shm, alerts.json, keys) is for its user only.
      process.umask(0o077);
      const loaded = loadConfig(opts.config);
      loaded.warnings.push(...rulesFileWarnings(opts.rules));
      const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? loaded.config.agent.log_level);
      // A daemon's last line of defence: a stray rejection is logged and the agent goes on (every
      // stage handles its own errors); an exception outside any stage ends it with one clear line.
      process.on('unhandledRejection', (reason) => logger.error({ err: reason instanceof Error ? reason.message : String(reason), error_code: 'unhandled_rejection' }, 'Unexpected rejected promise; the agent continues.'));
      process.on('uncaughtException', (err) => {
        logger.fatal({ err: err.message, error_code: 'uncaught_exception' }, 'Unexpected error; the agent stops. Committed events are safe in the outbox.');
        process.exit(70);
      });
      const recorder = opts.record ? new RecordingWriter(opts.record, loaded.config.devices.filter((d) => d.enabled)) : undefined;
      // SIGHUP reloads the rules files and approvals (a file watch does it too); a bad file keeps the
      // old rules. Taken from the start: by default SIGHUP would end the process.
      let reload: (() => void) | undefined;
      process.on('SIGHUP', () => reload?.());
      const agent = await runAgent(loaded, { logger, rulesFiles: opts.rules, onCycle: recorder && ((out) => recorder.writeCycle(out)) });
      reload = () => agent.rules.reload('SIGHUP');
      const sig = await untilSignal();
      logger.info({ signal: sig }, 'Stopping.');
      // A broker or PLC that never answers must not hold the stop: every committed event is in
      // the outbox already (committed on append), so after the bound the process just exits.
      const bound = setTimeout(() => {
        logger.warn({ error_code: 'stop_timeout', bound_ms: STOP_BOUND_MS }, `Stop took longer than ${STOP_BOUND_MS / 1000} s (a broker or PLC does not answer); exiting now. Committed events are safe in the outbox.`);
        process.exit(0);
      }, STOP_BOUND_MS);
      bound.unref();
      await agent.stop();
      clearTimeout(bound);
      recorder?.close();
    });

  program
    .command('trust')
    .description("first-run trust of OPC UA servers: shows each server certificate, trusts it once you confirm its thumbprint, and shows the agent certificate the servers must trust")
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('--device <id>', 'only this OPC UA device')
    .option('--thumbprint <hex>', "trust the device's server certificate only if its SHA-1 thumbprint is this one")
    .option('--yes', 'trust whatever certificate each server presents (only on a network you trust)')
    .action(async (opts: { config: string; device?: string; thumbprint?: string; yes?: boolean }) => {
      const loaded = loadConfig(opts.config);
      const { trustFromConfig } = await import('../protocols/opcua/trust.js');
      await trustFromConfig(loaded.config, loaded.dataDir, { device: opts.device, thumbprint: opts.thumbprint, yes: opts.yes, out: (line) => process.stdout.write(`${line}\n`) });
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
    .option('--playback <file>', 'play this recording (CSV with a timestamp column, or JSONL) into the registers on its own timeline (model playback)')
    .option('--speed <factor>', 'playback: recording time per second, e.g. 3600 plays an hourly row every second', Number)
    .option('--time-format <format>', "playback: CSV time format, e.g. 'DD/MM/YY hh'")
    .option('--ignore <columns>', 'playback: CSV columns that are not tags (comma separated)', (v: string) => v.split(','))
    .option('--scenario <name>', 'attack scenario to start on the first PLC')
    .option('--at <duration>', 'when the scenario starts, e.g. 10s', '10s')
    .option('--duration <duration>', 'how long the scenario lasts, e.g. 30s (default: until stopped)')
    .action(async (opts) => {
      const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'info');
      const { simulateModbus } = await import('./cli/simulate-modbus.js');
      const handle = await simulateModbus({ ...opts, logger });
      await untilSignal();
      await handle.stop();
    });
  simulate
    .command('opcua')
    .description('OPC UA server simulator (the same tank process model, secure endpoints) with attack and security scenarios')
    .option('-c, --config <file>', 'simulator config (YAML); the server flags below are then ignored, --scenario is added to its timeline')
    .option('--servers <n>', 'number of servers', intArg, 1)
    .option('--port <port>', 'first TCP port (0 = free ports)', intArg, 4840)
    .option('--model <model>', 'tank or bench', 'tank')
    .option('--variables <n>', 'variables per server for the bench model', intArg, 100)
    .option('--pki-dir <dir>', 'keep the servers\' certificates here (default: a temporary folder)')
    .option('--trust-client <file>', 'trust this client certificate, e.g. the agent\'s {data_dir}/pki/own/certs/client_certificate.pem (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--allow-anonymous', 'accept anonymous logins')
    .option('--scenario <name>', 'scenario to start on the first server')
    .option('--at <duration>', 'when the scenario starts, e.g. 10s', '10s')
    .option('--duration <duration>', 'how long the scenario lasts, e.g. 30s (default: until stopped)')
    .action(async (opts) => {
      const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'info');
      const { simulateOpcua } = await import('./cli/simulate-opcua.js');
      const handle = await simulateOpcua({ ...opts, logger });
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
    .option('--opcua', 'also run a tank behind an OPC UA server (secure channel, posture audit; its scenarios: server-offline, insecure-endpoint, anonymous-enabled, cert-swap, clock-drift)')
    .action(async (opts) => {
      const { runDemo } = await import('./demo/demo.js');
      await runDemo({ broker: opts.broker, scenario: opts.scenario, durationMs: opts.duration, plcs: opts.plcs, dataDir: opts.dataDir, json: Boolean(opts.json), opcua: Boolean(opts.opcua), stopSignal: untilSignal() });
    });

  addDataCommands(program, { untilSignal, usage: (m) => new UsageError(m), durationArg });
  addVerifyCommands(program, { untilSignal, usage: (m) => new UsageError(m), durationArg, exit: (code) => new ExitStatus(code) });
  addOutboxCommands(program, { usage: (m) => new UsageError(m) });
  addApproveCommands(program, { usage: (m) => new UsageError(m), durationArg });
  addCentralCommands(program, { untilSignal, usage: (m) => new UsageError(m) });
  addHashPasswordCommand(program.commands.find((c) => c.name() === 'central')!);
  addSchemaCommand(program, { usage: (m) => new UsageError(m) });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof ExitStatus) return e.exitCode;
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.file}: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}\n${formatProblems(e.problems)}\n`);
      return 1;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`otsentry: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof OperationalError) {
      process.stderr.write(`otsentry: ${e.message}\n`);
      return 1;
    }
    const err = e as Error & { code?: string };
    // A library's own error with a code (a file system call outside any stage) still reads as a message.
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
