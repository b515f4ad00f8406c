// Config schema of rules: the fields every rule shares, plus small schemas detectors reuse.
// Detector-specific fields are checked per type by the registry (rules/registry.ts) through
// validateRules (rules/validate.ts); the config schema only needs ruleBaseSchema.
import { z } from 'zod';
import { CATEGORIES, SEVERITIES } from './signal.js';

export const ruleBaseSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . -').describe('Rule id, unique in the config'),
    type: z.string().min(1).describe('Detector type (range, allowed_values, rate, stuck, integrity, identity, availability, exceptions, diagnostics, expression, residual, grid)'),
    device: z.string().min(1).describe('Device id the rule watches'),
    tag: z.string().min(1).optional().describe('Tag the rule watches'),
    tags: z.array(z.string().min(1)).min(1).optional().describe('Tags the rule watches (one alert per tag)'),
    severity: z.enum(SEVERITIES).optional().describe('Severity of the raised signal; default per detector type'),
    category: z.enum(CATEGORIES).optional().describe('Category of the raised signal; default per detector type'),
    message: z.string().min(1).optional().describe('Message template, e.g. "{tag} = {observed}, allowed {min} to {max}"'),
    clear_message: z.string().min(1).optional().describe('Message template of the cleared signal'),
    response: z.string().min(1).optional().describe('What the operator should do first'),
    enabled: z.boolean().default(true).describe('false keeps the rule validated but inactive'),
    review: z
      .string()
      .min(1)
      .optional()
      .describe('Set by learn on rules from a tag whose baseline had not converged (why): the rule signals at info until approved (otsentry approve removes it)'),
  })
  .passthrough();

export type RuleConfig = z.infer<typeof ruleBaseSchema>;

/** Keys of the common fields (the rest of a rule are detector parameters). */
export const RULE_BASE_KEYS: readonly string[] = Object.keys(ruleBaseSchema.shape);

const ISO_HINT = 'use an ISO 8601 time with seconds and a zone, e.g. 2025-03-01T08:00:00Z or 2025-03-01T08:00:00+01:00';

/** An ISO 8601 time with an explicit zone (a gateway's local zone is not a safe assumption). */
export const isoTimeSchema = z.union([z.iso.datetime({ offset: true, message: ISO_HINT }), z.date()], { message: ISO_HINT });

/** An approved window (maintenance, commissioning) during which a detector stays silent. */
export const timeWindowSchema = z
  .object({
    from: isoTimeSchema.describe('Start of the window'),
    to: isoTimeSchema.describe('End of the window'),
    reason: z.string().optional().describe('Work order or reason, for people'),
  })
  .strict()
  .refine((w) => toEpochMs(w.from) < toEpochMs(w.to), { message: 'to must be after from', path: ['to'] });

export type TimeWindow = z.infer<typeof timeWindowSchema>;

export function toEpochMs(t: string | Date): number {
  return typeof t === 'string' ? Date.parse(t) : t.getTime();
}

/** A scalar value as it appears in a rule file (baseline entries, allowed values). */
export const scalarSchema = z.union([z.number().finite(), z.boolean(), z.string()]);
export type Scalar = z.infer<typeof scalarSchema>;
