// The `outbox` subcommands of the otsentry CLI (agent/cli.ts adds them): list, export and retry
// events the broker refused. They ask the running agent over its control socket, or open the
// outbox file when the agent is stopped; either way stderr says which.
import fs from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { connectControl, fileAccess, type OutboxAccess } from '../outbox/control.js';
import { outboxFile } from '../outbox/index.js';
import { SqliteOutbox } from '../outbox/sqlite.js';
import type { OutboxEntry, RefusedEntry } from '../outbox/types.js';
import { OperationalError } from '../../protocols/errors.js';

export interface OutboxCommandKit {
  /** the CLI's usage error (printed as is, exit code 2) */
  usage(message: string): Error;
}

const PAGE = 1000;

function seqArg(v: string, prev: number[] = []): number[] {
  const out = [...prev];
  for (const part of v.split(',').filter(Boolean)) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${part}' is not a seq (a whole number from 1)`);
    out.push(n);
  }
  return out;
}

async function withOutbox<T>(configFile: string, fn: (access: OutboxAccess) => Promise<T>): Promise<T> {
  const loaded = loadConfig(configFile, { checkSecrets: false });
  const c = loaded.config;
  let access = await connectControl(loaded.dataDir);
  const file = outboxFile(loaded.dataDir);
  if (access === undefined) access = fileAccess(SqliteOutbox.inspect({ file, agent: c.agent.id, site: c.agent.site, limits: c.outbox }));
  process.stderr.write(access.via === 'agent' ? `otsentry: asking the running agent (${loaded.dataDir}/control.sock)\n` : `otsentry: agent not running; using ${file}\n`);
  try {
    return await fn(access);
  } finally {
    access.close();
  }
}

async function* pages<T extends { seq: number }>(read: (after: number) => Promise<T[]>): AsyncGenerator<T> {
  let after = 0;
  for (;;) {
    const page = await read(after);
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1].seq;
  }
}

function row(r: RefusedEntry): string {
  return [String(r.seq).padStart(8), r.refused_at, String(r.reason_code).padStart(4), r.reason.padEnd(24), r.severity.padEnd(8), r.rule, r.device].join('  ');
}

export function addOutboxCommands(program: Command, kit: OutboxCommandKit): void {
  const outbox = program.command('outbox').description('inspect the outbox: list, export and retry events the broker refused');

  outbox
    .command('refused')
    .description('list the events the broker refused (kept in the outbox, not delivered)')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('--json', 'one JSON object per refused event instead of the table')
    .action((o: { config: string; json?: boolean }) =>
      withOutbox(o.config, async (access) => {
        let n = 0;
        for await (const r of pages((after) => access.refused(PAGE, after))) {
          if (n++ === 0 && !o.json) process.stdout.write(`${'seq'.padStart(8)}  ${'refused_at'.padEnd(24)}  code  ${'reason'.padEnd(24)}  severity  rule  device\n`);
          process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `${row(r)}\n`);
        }
        if (!o.json) process.stdout.write(n === 0 ? 'no refused events\n' : `${n} refused event${n === 1 ? '' : 's'}; retry with: otsentry outbox retry --config ${o.config} --seq N (or --all)\n`);
      }),
    );

  outbox
    .command('export')
    .description('write stored events as JSONL, each line the exact payload the broker would get')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('--refused', 'only the refused events')
    .option('-o, --out <file>', 'file to write (default: standard output)')
    .action((o: { config: string; refused?: boolean; out?: string }) =>
      withOutbox(o.config, async (access) => {
        const fd = o.out === undefined ? 1 : openOut(o.out, kit);
        let n = 0;
        try {
          for await (const e of pages<OutboxEntry>((after) => access.entries(PAGE, after, Boolean(o.refused)))) {
            fs.writeSync(fd, `${e.payload}\n`);
            n++;
          }
        } finally {
          if (fd !== 1) fs.closeSync(fd);
        }
        process.stderr.write(`otsentry: exported ${n} ${o.refused ? 'refused ' : ''}event${n === 1 ? '' : 's'}${o.out === undefined ? '' : ` to ${o.out}`}\n`);
      }),
    );

  outbox
    .command('retry')
    .description('offer refused events for delivery again (after fixing the cause, e.g. the broker ACL)')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('--seq <n>', 'seq of a refused event (repeatable, or comma separated)', seqArg)
    .option('--all', 'every refused event')
    .action((o: { config: string; seq?: number[]; all?: boolean }) => {
      if ((o.seq === undefined) === (o.all === undefined)) throw kit.usage('outbox retry: give --seq N (repeatable) or --all.');
      return withOutbox(o.config, async (access) => {
        const done = await access.retry(o.all ? undefined : o.seq);
        const when = access.via === 'agent' ? 'the agent sends them now' : 'the agent sends them when it next runs';
        process.stdout.write(done.length === 0 ? 'no refused events to retry\n' : `${done.length} event${done.length === 1 ? '' : 's'} pending again (seq ${done.join(', ')}); ${when}\n`);
        const missing = (o.seq ?? []).filter((s) => !done.includes(s));
        if (missing.length > 0) {
          throw new OperationalError('not_refused', `not refused (acked, dropped or never refused): seq ${missing.join(', ')}; list them with: otsentry outbox refused --config ${o.config}`, 'outbox');
        }
      });
    });
}

function openOut(file: string, kit: OutboxCommandKit): number {
  try {
    return fs.openSync(file, 'w', 0o600);
  } catch (e) {
    throw kit.usage(`--out ${file}: cannot write it (${(e as NodeJS.ErrnoException).code}); check the folder and its permissions.`);
  }
}
