// What a detector type declares to the registry: its parameter schema, defaults and factory.
import type { z } from 'zod';
import type { Category, Severity } from './signal.js';
import type { TypeTexts } from './finding.js';
import { ExprError, parseExpr } from './expr/parse.js';
import type { Detector, DetectorContext, DeviceRef, ResolvedRule, RuleIssue } from './types.js';

/**
 * How a rule names the tags it watches:
 * - 'tags': `tag` or `tags` (one is required);
 * - 'none': the rule watches the device (facts), `tag`/`tags` are refused;
 * - 'params': the tags come from the detector's own fields (resolveTags).
 */
export type TagMode = 'tags' | 'none' | 'params';

export interface DetectorType {
  readonly type: string;
  readonly description: string;
  /** detector-specific fields, merged with the common rule fields into one strict object */
  readonly params: z.ZodRawShape;
  readonly defaults: { readonly category: Category; readonly severity: Severity };
  readonly texts: TypeTexts;
  /** template placeholders besides the common ones */
  readonly vars: readonly string[];
  readonly tagMode: TagMode;
  /** tagMode 'params': tags named by the params, with issues (paths relative to the rule) */
  resolveTags?(params: unknown, device: DeviceRef): { tags: string[]; issues: RuleIssue[] };
  /** checks zod cannot express (paths relative to the rule, e.g. 'max' or 'when') */
  check?(params: unknown, device: DeviceRef): RuleIssue[];
  create(rule: ResolvedRule, ctx: DetectorContext): Detector;
}

export type ParamsOf<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;
/** What checks get: the detector's own fields and the rule's id (validation hands over the whole parsed rule). */
type CheckedParams<S extends z.ZodRawShape> = ParamsOf<S> & { readonly id: string };

export interface DetectorDef<S extends z.ZodRawShape> {
  type: string;
  description: string;
  params: S;
  defaults: { category: Category; severity: Severity };
  texts: TypeTexts;
  vars?: readonly string[];
  tagMode: TagMode;
  resolveTags?(params: CheckedParams<S>, device: DeviceRef): { tags: string[]; issues: RuleIssue[] };
  check?(params: CheckedParams<S>, device: DeviceRef): RuleIssue[];
  create(rule: ResolvedRule<ParamsOf<S>>, ctx: DetectorContext): Detector;
}

/** Typed definition of a detector type; the registry stores it with its params type erased. */
export function defineDetector<S extends z.ZodRawShape>(def: DetectorDef<S>): DetectorType {
  return {
    type: def.type,
    description: def.description,
    params: def.params,
    defaults: def.defaults,
    texts: def.texts,
    vars: def.vars ?? [],
    tagMode: def.tagMode,
    resolveTags: def.resolveTags ? (p, d) => def.resolveTags!(p as CheckedParams<S>, d) : undefined,
    check: def.check ? (p, d) => def.check!(p as CheckedParams<S>, d) : undefined,
    create: (rule, ctx) => def.create(rule as ResolvedRule<ParamsOf<S>>, ctx),
  };
}

/** Issue path relative to a rule, joined the way validateRules prints it. */
export function subPath(...parts: (string | number)[]): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Issues of an expression field: syntax errors with their column, unknown tags with the known ones. */
export function checkExpr(path: string, src: string, device: DeviceRef, rule: string): RuleIssue[] {
  const names = device.tags.map((t) => t.name);
  try {
    parseExpr(src, new Set(names));
    return [];
  } catch (e) {
    if (!(e instanceof ExprError)) throw e;
    let hint = '';
    if (e.code === 'expr_unknown_tag') hint = `; tags of ${device.id}: ${listNames(names)}`;
    else if (e.code === 'expr_too_deep' || e.code === 'expr_too_long') hint = `; simplify the ${path} of rule '${rule}' or split it into several rules`;
    return [{ path, message: `${e.message}${hint}` }];
  }
}

/** A readable list, shortened when long. */
export function listNames(names: readonly string[], max = 20): string {
  if (names.length === 0) return '(none)';
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, ... (${names.length - max} more)`;
}
