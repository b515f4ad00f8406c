// Building a Finding for a rule: picks the rule's or the type's template per condition and renders it.
import type { Finding, ResolvedRule } from './types.js';
import { render } from './template.js';

/** Default texts of one condition of a detector type. */
export interface ConditionTexts {
  message: string;
  clear_message: string;
  response: string;
}

/** Default texts per condition; the key '' is the detector's only (or main) condition. */
export type TypeTexts = Readonly<Record<string, ConditionTexts>>;

/** Placeholders every template may use. */
export const COMMON_VARS = ['rule', 'device', 'tag', 'condition', 'observed', 'expected'] as const;

export interface FindingArgs {
  active: boolean;
  ts: number;
  tag?: string;
  /** '' or undefined: the main condition */
  condition?: string;
  observed?: unknown;
  expected?: unknown;
  evidence?: Record<string, unknown>;
  /** extra template variables of the detector */
  vars?: Record<string, unknown>;
}

export function makeFinding(rule: ResolvedRule, texts: TypeTexts, a: FindingArgs): Finding {
  const cond = a.condition ?? '';
  const t = texts[cond] ?? texts[''];
  const template = a.active ? (rule.message ?? t.message) : (rule.clear_message ?? t.clear_message);
  const vars: Record<string, unknown> = {
    ...a.vars,
    rule: rule.id,
    device: rule.device,
    tag: a.tag,
    condition: cond || rule.type,
    observed: a.observed,
    expected: a.expected,
  };
  const f: Finding = {
    rule: rule.id,
    device: rule.device,
    category: rule.category,
    severity: rule.review === undefined ? rule.severity : 'info',
    active: a.active,
    ts: a.ts,
    message: render(template, vars),
    response: rule.response ?? t.response,
  };
  if (a.tag !== undefined) f.tag = a.tag;
  if (cond) f.condition = cond;
  if (a.observed !== undefined) f.observed = a.observed;
  if (a.expected !== undefined) f.expected = a.expected;
  if (a.evidence !== undefined) f.evidence = a.evidence;
  if (rule.review !== undefined) f.evidence = { ...f.evidence, review: rule.review };
  return f;
}
