// The `record`, `learn` and `replay` subcommands of the otsentry CLI (agent/cli.ts adds them):
// capture what the agent polls, learn a baseline from it, and judge a recording with a rule set.
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../../protocols/log.js';
import { replayCommand, ReplayUsageError } from './replay.js';
import { recordDevices } from '../record/record.js';

export interface CommandKit {
  /** resolves on SIGINT or SIGTERM */
  untilSignal(): Promise<unknown>;
  /** the CLI's usage error (printed as is, exit code 2) */
  usage(message: string): Error;
  /** a duration flag (500ms, 30s, 5m, 1h) in ms */
  durationArg(v: string): number;
}

function ratioArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`'${v}' is not a number of 0 or more`);
  return n;
}

function listArg(v: string, prev: string[] = []): string[] {
  return [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

const out = (text: string) => process.stdout.write(text);

/** Runs an action; usage mistakes found inside become the CLI's usage error. */
async function guarded(kit: CommandKit, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ReplayUsageError) throw kit.usage(e.message);
    throw e;
  }
}

function csvOptions(cmd: Command): Command {
  return cmd
    .option('--device <id>', 'device the CSV columns belong to (default: the config\'s only device, or "csv")')
    .option('--time-column <name>', 'CSV timestamp column (default: ts, time, timestamp, datetime, ...)')
    .option('--time-format <format>', "iso, epoch_s, epoch_ms or a pattern like 'DD/MM/YY hh' (times without a zone are UTC)")
    .option('--labels <column>', 'CSV column with labels (1 attack, 0 normal, anything else unlabelled); not a tag')
    .option('--ignore <columns>', 'CSV columns that are not tags (comma separated)', listArg);
}

export function addDataCommands(program: Command, kit: CommandKit): void {
  program
    .command('record')
    .description('poll the devices of a config (read-only, no rules, no broker) and write every sample and fact to a JSONL recording')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .requiredOption('-o, --out <file>', 'recording to write (JSONL)')
    .option('--duration <duration>', 'stop after this long, e.g. 1h (default: until Ctrl-C)', kit.durationArg)
    .action((o: { config: string; out: string; duration?: number }) =>
      guarded(kit, async () => {
        const loaded = loadConfig(o.config, { checkSecrets: false });
        const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? loaded.config.agent.log_level);
        const st = await recordDevices(loaded, o.out, { logger, durationMs: o.duration, stop: kit.untilSignal() });
        out(`recorded ${st.cycles} cycles, ${st.samples} samples, ${st.facts} facts -> ${o.out}\n`);
      }),
    );

  csvOptions(
    program
      .command('learn')
      .description('observe normal operation (a recording, or the devices for a while or until every tag converged) and write a reviewable baseline rules file, with a convergence verdict per tag')
      .option('-c, --config <file>', 'agent config: its devices (needed to poll them; optional with --from)')
      .option('--from <recording>', 'learn from a recording (JSONL from `otsentry record`, or CSV)')
      .option('--duration <duration>', 'learn by polling the devices of --config this long, e.g. 24h', kit.durationArg)
      .option('--until-stable <max>', "learn until every tag's envelope converged, at most this long, e.g. 24h (with --from: this much of the recording)", kit.durationArg)
      .requiredOption('-o, --out <file>', 'baseline rules file to write (YAML)'),
  )
    .option('--margin <share>', 'share of the observed span added to learned bounds (default 0.05)', ratioArg)
    .option('--noise <share>', 'measurement tolerance as a share of a tag\'s magnitude (default 0.005)', ratioArg)
    .option('--no-invariants', 'do not mine invariants between tags')
    .option('--no-models', 'do not mine linear relations between tags')
    .option('--progress <interval>', 'print progress to stderr this often, 0 never (default: 1s rewritten in place on a terminal, else about 100 lines a run, 10s to 5m apart; none with --json)', kit.durationArg)
    .option('--json', 'print the outcome (rules, convergence verdict per tag, how it ended) as one JSON object')
    .action((o: { config?: string; from?: string; duration?: number; untilStable?: number; progress?: number; json?: boolean; out: string; margin?: number; noise?: number; invariants: boolean; models: boolean; device?: string; timeColumn?: string; timeFormat?: string; labels?: string; ignore?: string[] }) =>
      guarded(kit, async () => {
        const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'warn');
        const { learnCommand } = await import('./learn.js');
        await learnCommand({
          ...o,
          durationMs: o.duration,
          untilStableMs: o.untilStable,
          progressMs: o.progress,
          learn: { margin: o.margin, noise: o.noise, invariants: o.invariants, models: o.models },
          logger,
          stop: o.from === undefined ? kit.untilSignal() : undefined,
          print: out,
        });
      }),
    );

  csvOptions(
    program
      .command('replay')
      .description('run a rule set over a recording at full speed and report what would fire (exit 0 nothing, 3 something fired, 4 a quality gate failed, 1 bad input)')
      .requiredOption('-i, --input <recording>', 'recording: JSONL from `otsentry record`, or CSV (one row per poll)')
      .option('-c, --config <file>', 'agent config: its devices, rules and alert settings')
      .option('-r, --rules <file>', 'rules file, e.g. a learned baseline (repeatable)', (v: string, p: string[] = []) => [...p, v]),
  )
    .option('--events <file>', 'write every signal the agent would emit (JSONL, with the recording\'s timestamps)')
    .option('--json', 'print the summary as one JSON object')
    .option('--min-recall <share>', 'with --labels: exit 4 when recall is lower', ratioArg)
    .option('--max-fpr <share>', 'with --labels: exit 4 when the false-positive rate is higher', ratioArg)
    .action((o: { input: string; config?: string; rules?: string[]; events?: string; json?: boolean; minRecall?: number; maxFpr?: number; device?: string; timeColumn?: string; timeFormat?: string; labels?: string; ignore?: string[] }) =>
      guarded(kit, () => replayCommand({ ...o, min_recall: o.minRecall, max_fpr: o.maxFpr, print: out })),
    );
}
