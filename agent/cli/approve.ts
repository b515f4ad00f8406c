// `otsentry alerts` and `otsentry approve` (agent/cli.ts adds them): list the open alerts, and turn
// one (or a rule in review) into a reviewed change of the baseline, written to the audit file
// beside it. Both ask the running agent over its control socket, or read the files when it is
// stopped; stderr says which. The running agent takes the approval up at once (it is told to
// reload; its file watch would do it too).
import crypto from 'node:crypto';
import os from 'node:os';
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { askControl } from '../outbox/control.js';
import { appendRecord, readAudit, unrecordedExpiries, type ApprovalRecord } from '../approve/audit.js';
import { loadBaseline } from '../approve/baseline.js';
import { ApproveError, proposeChanges } from '../approve/changes.js';
import type { RuleAnswer } from '../approve/control.js';
import type { ReloadStatus } from '../approve/live.js';
import { openAlertsFromFile, type OpenAlert } from '../approve/open.js';
import { describeChanges } from '../approve/patch.js';
import { OperationalError } from '../../protocols/errors.js';

export interface ApproveCommandKit {
  usage(message: string): Error;
  durationArg(v: string): number;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Open alerts and the rule lookup, from the running agent or from the files. */
interface Source {
  via: 'agent' | 'files';
  alerts: OpenAlert[];
  rule(id: string): Promise<RuleAnswer | null>;
}

async function source(loaded: LoadedConfig, rulesFiles: string[]): Promise<Source> {
  const alerts = await askControl<OpenAlert[]>(loaded.dataDir, { op: 'alerts' });
  if (alerts !== undefined) {
    process.stderr.write(`otsentry: asking the running agent (${loaded.dataDir}/control.sock)\n`);
    return { via: 'agent', alerts, rule: async (id) => (await askControl<RuleAnswer | null>(loaded.dataDir, { op: 'rule', id })) ?? null };
  }
  process.stderr.write(`otsentry: agent not running; reading ${loaded.dataDir}/alerts.json and the rule files\n`);
  const c = loaded.config;
  const b = loadBaseline(loaded.file, c.rules, rulesFiles, c.devices, Date.now());
  return {
    via: 'files',
    alerts: openAlertsFromFile(loaded.dataDir),
    rule: async (id) => {
      const src = b.sourceOf.get(id);
      const rule = b.rules.find((r) => (r as { id?: unknown }).id === id) as Record<string, unknown> | undefined;
      return src && rule ? { rule, written: b.written.get(id)!, file: src.file, audit: src.audit } : null;
    },
  };
}

const show = (v: unknown) => (v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

function printAlerts(alerts: OpenAlert[]): void {
  if (alerts.length === 0) {
    process.stdout.write('no open alerts\n');
    return;
  }
  const rows = alerts.map((a) => [a.signal ?? '-', a.rule, a.device, a.tag ?? a.condition ?? '-', a.since ?? '-', a.severity, show(a.observed), show(a.expected)]);
  const head = ['SIGNAL', 'RULE', 'DEVICE', 'TAG', 'SINCE', 'SEVERITY', 'OBSERVED', 'EXPECTED'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]))).join('  ')}\n`);
}

function whoAmI(): string {
  // Under sudo the person is the invoking user, not root or the agent's service user.
  return process.env.SUDO_USER || os.userInfo().username;
}

export function addApproveCommands(program: Command, kit: ApproveCommandKit): void {
  program
    .command('alerts')
    .description('list the open alerts with the ids `otsentry approve` takes (signal id, rule id)')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .option('--json', 'one JSON object per alert and line')
    .action(async (opts: { config: string; json?: boolean }) => {
      const loaded = loadConfig(opts.config, { checkSecrets: false });
      const alerts = (await askControl<OpenAlert[]>(loaded.dataDir, { op: 'alerts' })) ?? openAlertsFromFile(loaded.dataDir);
      if (opts.json) for (const a of alerts) process.stdout.write(`${JSON.stringify(a)}\n`);
      else printAlerts(alerts);
    });

  program
    .command('approve')
    .description('approve an open alert (by its signal id, or all open alerts of a rule by rule id) or a rule in review: a reviewed change of the baseline, with who, why and an expiry, in the audit file beside it')
    .requiredOption('-c, --config <file>', 'agent config (YAML)')
    .argument('<id>', 'signal id of an open alert, or a rule id (`otsentry alerts` lists both)')
    .requiredOption('--reason <text>', 'why, e.g. "work order 4711" (kept in the audit file and sent to central)')
    .option('--for <duration>', 'the approval expires after this long, e.g. 8h (then the rule reverts)', kit.durationArg)
    .option('--by <name>', 'who approves (default: the OS user; the user behind sudo)')
    .option('-r, --rules <file>', 'rules file the agent runs with (as given to run --rules), when the agent is stopped (repeatable)', collect)
    .option('--dry-run', 'print what would change, write nothing')
    .action(async (id: string, opts: { config: string; reason: string; for?: number; by?: string; rules?: string[]; dryRun?: boolean }) => {
      if (opts.reason.trim() === '') throw kit.usage('--reason must say why (a work order, a ticket)');
      const loaded = loadConfig(opts.config, { checkSecrets: false });
      const src = await source(loaded, opts.rules ?? []);
      const bySignal = src.alerts.filter((a) => a.signal === id);
      const ruleId = bySignal[0]?.rule ?? id;
      if (ruleId.startsWith('otsentry.')) throw new ApproveError(`${ruleId} is a built-in rule of the agent; it has no baseline to approve`);
      const target = await src.rule(ruleId);
      if (!target) {
        const hint = src.via === 'files' && !opts.rules ? '; if the agent runs with --rules FILE, give the same --rules here' : '';
        throw new ApproveError(`'${id}' is neither the signal id of an open alert nor a rule id (otsentry alerts --config ${opts.config} lists them)${hint}`);
      }
      const alerts = bySignal.length > 0 ? bySignal : src.alerts.filter((a) => a.rule === ruleId);
      const proposal = proposeChanges(target.rule, alerts);
      if (proposal.silences && opts.for === undefined) {
        throw new ApproveError(`the alert of ${ruleId} has no observed value that could become its baseline (${String(target.rule.type)}); approving it only stops the rule watching it, so give --for (e.g. --for 8h)`);
      }
      const now = Date.now();
      const record: ApprovalRecord = {
        v: 1,
        type: 'approval',
        id: `a-${new Date(now).toISOString().replace(/[-:]|\.\d+/g, '').slice(0, 15)}-${crypto.randomBytes(3).toString('hex')}`,
        ts: new Date(now).toISOString(),
        by: opts.by ?? whoAmI(),
        reason: opts.reason,
        rule: ruleId,
        alerts: alerts.map(({ severity: _s, message: _m, ...ref }) => ref),
        changes: proposal.changes,
        summary: describeChanges(target.rule, proposal.changes),
        expires: opts.for === undefined ? null : new Date(now + opts.for).toISOString(),
      };
      if (typeof target.rule.review === 'string') record.from_review = target.rule.review;
      const until = record.expires === null ? 'until the baseline is learned again' : `until ${record.expires}`;
      const lines = [
        `${opts.dryRun ? 'would approve' : 'approved'} ${ruleId} (${record.id}) ${until}, by ${record.by}: ${record.reason}`,
        ...(record.from_review ? [`  approved from review: ${record.from_review}`] : []),
        ...alerts.map((a) => `  answers ${a.signal ?? '(no signal id)'}: ${a.device}${a.tag ? `/${a.tag}` : ''} observed ${show(a.observed)}`),
        ...record.summary.map((s) => `  ${s}`),
      ];
      if (opts.dryRun) {
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      // Expiry records the agent could not write (under systemd /etc is read-only for it) are
      // written by whoever approves next, so the audit file has one per expiry.
      for (const x of unrecordedExpiries(readAudit(target.audit), now)) {
        appendRecord(target.audit, { v: 1, type: 'expiry', id: `${x.id}.x`, ts: new Date(now).toISOString(), approval: x.id, rule: x.rule, expired_at: x.expires! });
      }
      appendRecord(target.audit, record);
      process.stdout.write(`${lines.join('\n')}\n  audit: ${target.audit}\n`);
      if (src.via === 'files') {
        process.stdout.write('the agent is not running; it applies the approval when it starts\n');
        return;
      }
      const st = await askControl<ReloadStatus>(loaded.dataDir, { op: 'reload' });
      if (st?.ok) process.stdout.write('the running agent applied it\n');
      else throw new OperationalError('approve_reload', `the approval is recorded, but the running agent did not take it up: ${st?.error ?? 'it stopped answering'}`, 'approve');
    });
}
