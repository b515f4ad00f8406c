// Rule validation: per-type schema, device and tag references, duplicate ids, expressions and
// message templates. Every problem is collected (never the first only) as a `path: message` line.
import { z } from 'zod';
import { COMMON_VARS } from './finding.js';
import { listNames, type DetectorType } from './detector.js';
import { DETECTOR_TYPES, detectorTypeNames } from './registry.js';
import { ruleBaseSchema, RULE_BASE_KEYS } from './schema.js';
import { placeholders } from './template.js';
import type { DeviceRef, ResolvedRule, RuleIssue } from './types.js';
import { OperationalError } from '../protocols/errors.js';
import { formatProblems, zodProblems } from '../protocols/problems.js';

const schemaCache = new Map<string, z.ZodType>();

/** The full schema of one rule type: common fields plus the detector's, unknown keys refused. */
export function ruleSchemaFor(dt: DetectorType): z.ZodType {
  let s = schemaCache.get(dt.type);
  if (!s) {
    s = z.object({ ...ruleBaseSchema.shape, ...dt.params }).strict();
    schemaCache.set(dt.type, s);
  }
  return s;
}

function zodIssues(at: string, dt: DetectorType, err: z.ZodError): RuleIssue[] {
  const own = Object.keys(dt.params);
  return zodProblems(err, {
    at,
    unknownKey: (_k, path) => (path.length > 0 ? 'unknown field' : `unknown field for ${article(dt.type)} ${dt.type} rule; its own fields are ${listNames(own)} (common: ${RULE_BASE_KEYS.join(', ')})`),
  });
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

interface Checked {
  issues: RuleIssue[];
  rule?: ResolvedRule;
}

function checkRule(raw: unknown, i: number, devices: ReadonlyMap<string, DeviceRef>): Checked {
  const at = `rules[${i}]`;
  const issues: RuleIssue[] = [];
  if (!isRecord(raw)) return { issues: [{ path: at, message: 'a rule is a mapping with id, type, device and its own fields' }] };

  const dt = typeof raw.type === 'string' ? DETECTOR_TYPES.get(raw.type) : undefined;
  if (!dt) {
    const base = ruleBaseSchema.safeParse(raw);
    if (!base.success) issues.push(...zodProblems(base.error, { at }));
    if (typeof raw.type === 'string') issues.push({ path: `${at}.type`, message: `unknown detector type '${raw.type}'; known types: ${detectorTypeNames().join(', ')}` });
    return { issues };
  }
  const parsed = ruleSchemaFor(dt).safeParse(raw);
  if (!parsed.success) issues.push(...zodIssues(at, dt, parsed.error));

  // References, checked on the raw values so they are reported even when other fields are wrong.
  const device = typeof raw.device === 'string' ? devices.get(raw.device) : undefined;
  if (typeof raw.device === 'string' && !device) {
    issues.push({ path: `${at}.device`, message: `unknown device '${raw.device}'; known devices: ${listNames([...devices.keys()])}` });
  }
  const known = new Set(device?.tags.map((t) => t.name) ?? []);
  const unknownTag = (name: string) => `unknown tag '${name}' on device '${device!.id}'; known tags: ${listNames([...known])}`;
  const hasTag = raw.tag !== undefined;
  const hasTags = raw.tags !== undefined;
  let tags: string[] = [];
  if (dt.tagMode === 'tags') {
    if (hasTag && hasTags) issues.push({ path: `${at}.tags`, message: 'give tag or tags, not both' });
    else if (!hasTag && !hasTags) issues.push({ path: `${at}.tag`, message: `${article(dt.type)} ${dt.type} rule needs tag (one tag) or tags (a list)` });
    if (typeof raw.tag === 'string') {
      tags = [raw.tag];
      if (device && !known.has(raw.tag)) issues.push({ path: `${at}.tag`, message: unknownTag(raw.tag) });
    } else if (Array.isArray(raw.tags)) {
      const seen = new Set<string>();
      raw.tags.forEach((t, j) => {
        if (typeof t !== 'string') return;
        if (seen.has(t)) issues.push({ path: `${at}.tags[${j}]`, message: `tag '${t}' is listed twice` });
        seen.add(t);
        if (device && !known.has(t)) issues.push({ path: `${at}.tags[${j}]`, message: unknownTag(t) });
      });
      tags = [...seen];
    }
  } else if (hasTag || hasTags) {
    const why = dt.tagMode === 'none' ? 'watches the whole device and takes no tag' : `takes its tags from ${dt.type === 'integrity' ? 'baseline' : 'its own fields'}`;
    issues.push({ path: `${at}.${hasTag ? 'tag' : 'tags'}`, message: `${article(dt.type)} ${dt.type} rule ${why}; remove ${hasTag ? 'tag' : 'tags'}` });
  }

  for (const field of ['message', 'clear_message'] as const) {
    const tpl = raw[field];
    if (typeof tpl !== 'string') continue;
    const allowed = new Set<string>([...COMMON_VARS, ...dt.vars]);
    const bad = placeholders(tpl).filter((p) => !allowed.has(p));
    if (bad.length) issues.push({ path: `${at}.${field}`, message: `unknown placeholder ${bad.map((b) => `{${b}}`).join(' ')}; use ${[...allowed].map((a) => `{${a}}`).join(' ')}` });
  }

  if (!parsed.success || !device) return { issues };
  const p = parsed.data as Record<string, unknown> & z.output<typeof ruleBaseSchema>;
  if (dt.resolveTags) {
    const r = dt.resolveTags(p, device);
    tags = r.tags;
    for (const iss of r.issues) issues.push({ path: `${at}.${iss.path}`, message: iss.message });
  }
  for (const iss of dt.check?.(p, device) ?? []) issues.push({ path: `${at}.${iss.path}`, message: iss.message });
  if (issues.length) return { issues };
  return {
    issues,
    rule: {
      index: i,
      id: p.id,
      type: dt.type,
      device: device.id,
      tags,
      category: p.category ?? dt.defaults.category,
      severity: p.severity ?? dt.defaults.severity,
      message: p.message,
      clear_message: p.clear_message,
      response: p.response,
      enabled: p.enabled,
      review: p.review,
      params: p,
    },
  };
}

/** Validate and resolve rules against the devices; `rules` has only the rules without issues. */
export function compileRules(rules: readonly unknown[], devices: readonly DeviceRef[]): { rules: ResolvedRule[]; issues: RuleIssue[] } {
  const byId = new Map(devices.map((d) => [d.id, d]));
  const issues: RuleIssue[] = [];
  const out: ResolvedRule[] = [];
  const ids = new Map<string, number>();
  rules.forEach((raw, i) => {
    const c = checkRule(raw, i, byId);
    issues.push(...c.issues);
    if (c.rule) out.push(c.rule);
    const id = isRecord(raw) && typeof raw.id === 'string' ? raw.id : undefined;
    if (id === undefined) return;
    const first = ids.get(id);
    if (first !== undefined) issues.push({ path: `rules[${i}].id`, message: `duplicate rule id '${id}' (first used by rules[${first}])` });
    else ids.set(id, i);
  });
  return { rules: out, issues };
}

/** Every problem of a rules list, for `otsentry validate` and the config loader. Empty: all good. */
export function validateRules(rules: readonly unknown[], devices: readonly DeviceRef[]): RuleIssue[] {
  return compileRules(rules, devices).issues;
}

/** Thrown by RuleEngine for invalid rules; `issues` are the `path: message` lines. */
export class RuleConfigError extends OperationalError {
  declare readonly code: 'config_invalid';
  constructor(readonly issues: RuleIssue[]) {
    super('config_invalid', `invalid rules:\n${formatProblems(issues)}`, 'config');
  }
}
