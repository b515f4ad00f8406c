// Risk score of a device (0-100) from its alerts, and the site warning level in four grades.
//
// Each alert weighs w = weights[severity] points while raised; after it clears it keeps
// cleared_weight * w, halving every half_life_ms. Weights combine like independent risks:
// score = 100 * (1 - prod(1 - w_i/100)), so it never exceeds 100 and one critical (80) alone
// puts a device at "severe". Site level = grade of the highest device score, one grade higher
// when spread_devices devices are at "elevated" or above (a spreading incident).
import type { Severity } from '../signal.js';
import type { AlertsConfig } from './config.js';

export const SITE_LEVELS = ['normal', 'elevated', 'high', 'severe'] as const;
export type SiteLevel = (typeof SITE_LEVELS)[number];

/** The same four grades in the blue/yellow/orange/red scheme of early-warning systems (IV..I). */
export const SITE_LEVEL_COLORS: Readonly<Record<SiteLevel, string>> = { normal: 'blue', elevated: 'yellow', high: 'orange', severe: 'red' };

export interface ScoredAlert {
  severity: Severity;
  /** raised (or held/pending): full weight */
  active: boolean;
  /** when it cleared (epoch ms), for the residual weight */
  clearedAt: number;
}

export class RiskScorer {
  constructor(private readonly cfg: AlertsConfig['score']) {}

  /** Contribution of one alert at time now, 0..1. */
  weight(a: ScoredAlert, now: number): number {
    const w = this.cfg.weights[a.severity] / 100;
    if (a.active) return w;
    if (a.clearedAt !== a.clearedAt) return 0;
    const age = Math.max(0, now - a.clearedAt);
    return w * this.cfg.cleared_weight * Math.pow(0.5, age / this.cfg.half_life_ms);
  }

  score(alerts: Iterable<ScoredAlert>, now: number): number {
    let keep = 1;
    for (const a of alerts) keep *= 1 - this.weight(a, now);
    return Math.round(100 * (1 - keep));
  }
}

export function levelOf(score: number, thresholds: readonly [number, number, number]): number {
  return score >= thresholds[2] ? 3 : score >= thresholds[1] ? 2 : score >= thresholds[0] ? 1 : 0;
}

export function siteLevel(scores: Iterable<number>, site: AlertsConfig['site']): SiteLevel {
  let grade = 0;
  let spread = 0;
  for (const s of scores) {
    const g = levelOf(s, site.thresholds);
    if (g > grade) grade = g;
    if (g >= 1) spread++;
  }
  if (site.spread_devices > 0 && spread >= site.spread_devices) grade = Math.min(3, grade + 1);
  return SITE_LEVELS[grade];
}
