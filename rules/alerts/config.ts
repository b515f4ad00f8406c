// Config schema of the alert stage (flap suppression, rate limit, risk score, site level), meant
// to be composed into the agent config as `alerts:`; every field has a default.
import { z } from 'zod';

export const alertsConfigSchema = z
  .object({
    flap: z
      .object({
        window_ms: z.number().int().min(1000).default(600_000).describe('Raises of one alert are counted within this window'),
        threshold: z.number().int().min(2).default(3).describe('Raises within the window that make an alert flapping: it is then held raised'),
        hold_ms: z.number().int().min(0).default(300_000).describe('A flapping alert clears once its condition stayed gone this long'),
      })
      .strict()
      .prefault({}),
    rate_limit: z
      .object({
        burst: z.number().int().min(1).default(20).describe('Raised signals one rule may emit at once'),
        per_minute: z.number().positive().default(10).describe('Sustained raised signals per minute per rule; the rest are delayed and counted'),
      })
      .strict()
      .prefault({}),
    score: z
      .object({
        weights: z
          .object({
            info: z.number().min(0).max(100).default(2),
            low: z.number().min(0).max(100).default(10),
            medium: z.number().min(0).max(100).default(25),
            high: z.number().min(0).max(100).default(50),
            critical: z.number().min(0).max(100).default(80),
          })
          .strict()
          .prefault({})
          .describe('Risk points of one active alert per severity (combined as 100*(1-prod(1-w/100)))'),
        cleared_weight: z.number().min(0).max(1).default(0.5).describe('Share of its weight an alert keeps right after it clears'),
        half_life_ms: z.number().int().min(1000).default(900_000).describe('Half-life of that residual weight'),
      })
      .strict()
      .prefault({}),
    site: z
      .object({
        thresholds: z
          .tuple([z.number(), z.number(), z.number()])
          .default([25, 50, 75])
          .refine(([a, b, c]) => 0 < a && a < b && b < c && c <= 100, 'three rising scores in 1..100 (elevated, high, severe)')
          .describe('Highest device score from which the site is elevated, high, severe'),
        spread_devices: z.number().int().min(0).default(3).describe('This many devices at elevated or above raise the site one grade (0 = off)'),
      })
      .strict()
      .prefault({}),
    restore_grace_ms: z
      .number()
      .int()
      .min(0)
      .default(120_000)
      .describe('After a restart, alerts that were raised stay raised this long waiting for their rule to see the condition again; unconfirmed ones are then cleared'),
  })
  .strict()
  .prefault({});

export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type AlertsConfigInput = z.input<typeof alertsConfigSchema>;
