// The rules the agent enforces: those of the config file and of the --rules files (the learned
// baselines), with every approval of their audit files that has not expired applied on top.
// Used at start, on every live reload, by `validate` and by `approve`. Pure but for reading files.
import { ConfigError } from '../config/load.js';
import { mergeRuleFiles, readRulesFile } from '../../rules/learn/rulesfile.js';
import { compileRules } from '../../rules/index.js';
import type { DeviceRef } from '../../rules/types.js';
import { activeApprovals, auditFileFor, readAudit, unrecordedExpiries, type ApprovalRecord, type Audit } from './audit.js';
import { applyChanges } from './patch.js';

export interface RuleSourceFile {
  /** the config file (inline rules) or a --rules file */
  file: string;
  /** its approvals audit file */
  audit: string;
}

export interface Baseline {
  /** effective rules, approvals applied, in source order */
  rules: unknown[];
  sources: RuleSourceFile[];
  /** the file each rule id comes from */
  sourceOf: Map<string, RuleSourceFile>;
  /** the rules as written, before approvals (by id) */
  written: Map<string, Record<string, unknown>>;
  /** approvals in force and applied */
  approvals: ApprovalRecord[];
  /** approvals in force that could not be applied, with why */
  skipped: Array<{ approval: ApprovalRecord; why: string }>;
  /** approvals that ran out and have no expiry record yet */
  expired: Array<{ approval: ApprovalRecord; audit: string }>;
  /** epoch ms of the next expiry of an approval in force */
  nextExpiry?: number;
  /** compares two loads: equal text, equal rules */
  fingerprint: string;
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Load the baseline. `configRules` are the config file's own rules (already parsed with it).
 * Throws ConfigError (rules files, audit files) listing every problem.
 */
export function loadBaseline(configFile: string, configRules: readonly unknown[], rulesFiles: readonly string[], devices: readonly DeviceRef[], now: number): Baseline {
  const sources: RuleSourceFile[] = [configFile, ...rulesFiles].map((f) => ({ file: f, audit: auditFileFor(f) }));
  // mergeRuleFiles validates the written rules together (duplicate ids across files included)
  const all = rulesFiles.length > 0 ? mergeRuleFiles(configRules, rulesFiles, devices, configFile) : [...configRules];
  const counts = [configRules.length, ...rulesFiles.map((f) => readRulesFile(f).length)];
  const sourceOf = new Map<string, RuleSourceFile>();
  const written = new Map<string, Record<string, unknown>>();
  const index = new Map<string, number>();
  let at = 0;
  counts.forEach((n, s) => {
    for (let i = at; i < at + n; i++) {
      const r = all[i];
      if (!isObj(r) || typeof r.id !== 'string') continue;
      sourceOf.set(r.id, sources[s]);
      written.set(r.id, r);
      index.set(r.id, i);
    }
    at += n;
  });
  const audits: Audit[] = [];
  const problems: ConfigError[] = [];
  for (const s of sources) {
    try {
      audits.push(readAudit(s.audit));
    } catch (e) {
      if (e instanceof ConfigError) problems.push(e);
      else throw e;
    }
  }
  if (problems.length > 0) throw problems.length === 1 ? problems[0] : new ConfigError(problems[0].file, problems.flatMap((p) => p.problems.map((q) => ({ path: `${p.file}: ${q.path}`, message: q.message }))));

  const rules = [...all];
  const approvals: ApprovalRecord[] = [];
  const skipped: Baseline['skipped'] = [];
  const expired: Baseline['expired'] = [];
  let nextExpiry: number | undefined;
  audits.forEach((audit, s) => {
    for (const a of unrecordedExpiries(audit, now)) expired.push({ approval: a, audit: audit.file });
    for (const a of activeApprovals(audit, now)) {
      const i = index.get(a.rule);
      if (i === undefined || sourceOf.get(a.rule) !== sources[s]) {
        skipped.push({ approval: a, why: `rule '${a.rule}' is not in ${sources[s].file} any more` });
        continue;
      }
      const next = applyChanges(rules[i] as Record<string, unknown>, a.changes);
      const issues = compileRules([next], devices).issues;
      if (issues.length > 0) {
        skipped.push({ approval: a, why: `it would make rule '${a.rule}' invalid (${issues.map((x) => `${x.path.replace(/^rules\[0\]\.?/, '')}: ${x.message}`).join('; ')})` });
        continue;
      }
      rules[i] = next;
      approvals.push(a);
      if (a.expires !== null) {
        const t = Date.parse(a.expires);
        if (nextExpiry === undefined || t < nextExpiry) nextExpiry = t;
      }
    }
  });
  return { rules, sources, sourceOf, written, approvals, skipped, expired, nextExpiry, fingerprint: JSON.stringify(rules) };
}
