// The approvals audit file beside a baseline: `baseline.yaml` -> `baseline.approvals.jsonl`.
// Append-only JSON lines, one record per approval and one per expiry, never rewritten. It is
// also the source of truth for what approvals change: the agent applies every approval that has
// not expired over the rules of the file it sits beside (agent/approve/baseline.ts).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../config/load.js';
import { zodProblems } from '../../protocols/problems.js';

const pathSchema = z.array(z.string().min(1)).min(1);
const changeSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('set'), path: pathSchema, value: z.unknown() }),
  z.object({ op: z.literal('unset'), path: pathSchema }),
  z.object({ op: z.literal('add'), path: pathSchema, value: z.unknown(), default: z.array(z.unknown()).optional() }),
  z.object({ op: z.literal('remove'), path: pathSchema, value: z.unknown(), default: z.array(z.unknown()).optional() }),
  z.object({ op: z.literal('at_least'), path: pathSchema, value: z.number(), default: z.number().optional() }),
  z.object({ op: z.literal('at_most'), path: pathSchema, value: z.number(), default: z.number().optional() }),
]);

const alertSchema = z.object({
  rule: z.string(),
  device: z.string(),
  tag: z.string().optional(),
  condition: z.string().optional(),
  observed: z.unknown().optional(),
  expected: z.unknown().optional(),
  evidence: z.record(z.string(), z.unknown()).optional(),
  signal: z.string().optional(),
  since: z.string().optional(),
});

const iso = z.iso.datetime({ offset: true });

export const approvalRecordSchema = z.object({
  v: z.literal(1),
  type: z.literal('approval'),
  id: z.string().min(1),
  ts: iso,
  by: z.string().min(1),
  reason: z.string().min(1),
  rule: z.string().min(1),
  /** the alerts it answers (none when a rule is approved out of review) */
  alerts: z.array(alertSchema),
  changes: z.array(changeSchema).min(1),
  summary: z.array(z.string()),
  /** null: until the baseline is learned again */
  expires: iso.nullable(),
  from_review: z.string().optional(),
});

export const expiryRecordSchema = z.object({
  v: z.literal(1),
  type: z.literal('expiry'),
  id: z.string().min(1),
  ts: iso,
  approval: z.string().min(1),
  rule: z.string().min(1),
  /** when the approval ran out (ts is when this record was written; later when the agent was down) */
  expired_at: iso,
});

export type ApprovalRecord = z.infer<typeof approvalRecordSchema>;
export type ExpiryRecord = z.infer<typeof expiryRecordSchema>;
const recordSchema = z.discriminatedUnion('type', [approvalRecordSchema, expiryRecordSchema]);

export interface Audit {
  file: string;
  approvals: ApprovalRecord[];
  /** expiry records by approval id */
  expiries: Map<string, ExpiryRecord>;
}

/** The audit file of a rules file (or of the config file holding inline rules). */
export function auditFileFor(rulesFile: string): string {
  const abs = path.resolve(rulesFile);
  return path.join(path.dirname(abs), `${path.basename(abs).replace(/\.(ya?ml|json)$/i, '')}.approvals.jsonl`);
}

/** Read an audit file; a missing one is empty. Throws ConfigError naming each bad line. */
export function readAudit(file: string): Audit {
  const audit: Audit = { file, approvals: [], expiries: new Map() };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return audit;
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read it (${(e as NodeJS.ErrnoException).code}); the agent needs read access to its approvals` }]);
  }
  const problems: ConfigProblem[] = [];
  const ids = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const at = `line ${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return void problems.push({ path: at, message: 'not a JSON record (the file is append-only JSON lines written by otsentry approve; restore it from a backup)' });
    }
    const r = recordSchema.safeParse(raw);
    if (!r.success) {
      const first = zodProblems(r.error)[0];
      return void problems.push({ path: `${at}${first.path ? `: ${first.path}` : ''}`, message: first.message });
    }
    if (r.data.type === 'approval') {
      if (ids.has(r.data.id)) return void problems.push({ path: `${at}: id`, message: `approval id '${r.data.id}' appears twice` });
      ids.add(r.data.id);
      audit.approvals.push(r.data);
    } else if (!audit.expiries.has(r.data.approval)) {
      audit.expiries.set(r.data.approval, r.data);
    }
  });
  if (problems.length > 0) throw new ConfigError(file, problems);
  return audit;
}

/**
 * Append one record as one write of one line (O_APPEND: concurrent writers never interleave
 * within a line). Creates the file 0640: the agent's group reads it.
 */
export function appendRecord(file: string, record: ApprovalRecord | ExpiryRecord): void {
  const line = `${JSON.stringify(record)}\n`;
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
  try {
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Approvals in force at `now` (not expired), in file order. */
export function activeApprovals(audit: Audit, now: number): ApprovalRecord[] {
  return audit.approvals.filter((a) => a.expires === null || Date.parse(a.expires) > now);
}

/** Approvals that ran out by `now` and have no expiry record yet. */
export function unrecordedExpiries(audit: Audit, now: number): ApprovalRecord[] {
  return audit.approvals.filter((a) => a.expires !== null && Date.parse(a.expires) <= now && !audit.expiries.has(a.id));
}
