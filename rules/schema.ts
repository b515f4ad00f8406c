// Config schema of rules: the fields every rule shares. Detector-specific fields are validated by
// the detector registry (rules/registry.ts) once detectors exist.
import { z } from 'zod';
import { CATEGORIES, SEVERITIES } from '../agent/signal.js';

export const ruleBaseSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . -').describe('Rule id, unique in the config'),
    type: z.string().min(1).describe('Detector type'),
    device: z.string().min(1).describe('Device id the rule watches'),
    tag: z.string().optional().describe('Tag the rule watches'),
    tags: z.array(z.string()).optional().describe('Tags the rule watches'),
    severity: z.enum(SEVERITIES).optional(),
    category: z.enum(CATEGORIES).optional(),
    message: z.string().optional().describe('Message template, e.g. "{tag} = {observed}, allowed {expected}"'),
    response: z.string().optional().describe('What the operator should do first'),
    enabled: z.boolean().default(true),
  })
  .passthrough();

export type RuleConfig = z.infer<typeof ruleBaseSchema>;
