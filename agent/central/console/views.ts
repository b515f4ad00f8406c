// What the console shows, computed from store records: pure functions (unit tested without a
// server): site summaries, the warning-level timeline of a site, a device's risk series, and
// where an alert stands in the response process.
import { SITE_LEVELS, type SiteLevel } from '../../../rules/alerts/score.js';
import type { AgentRecord, AssetsPoint, AssetsRecord, ChainState, StoredResponse } from '../store/types.js';

export const levelRank = (l: string): number => Math.max(0, SITE_LEVELS.indexOf(l as SiteLevel));
const maxLevel = (ls: Iterable<string>): SiteLevel => {
  let r = 0;
  for (const l of ls) r = Math.max(r, levelRank(l));
  return SITE_LEVELS[r]!;
};
const CHAIN_RANK: Record<ChainState, number> = { verified: 0, gap: 1, broken: 2 };

export interface SiteSummary {
  site: string;
  /** the highest level any agent of the site reports */
  level: SiteLevel;
  score: number;
  agents: number;
  online: number;
  devices: number;
  /** the worst chain state of its agents */
  chain: ChainState;
  updated_ms?: number;
}

/** One summary per site that has an agent record or an assets payload, by name. */
export function siteSummaries(agents: readonly AgentRecord[], assets: readonly AssetsRecord[]): SiteSummary[] {
  const sites = new Map<string, SiteSummary>();
  const get = (site: string) => {
    let s = sites.get(site);
    if (!s) sites.set(site, (s = { site, level: 'normal', score: 0, agents: 0, online: 0, devices: 0, chain: 'verified' }));
    return s;
  };
  for (const a of agents) {
    const s = get(a.site);
    s.agents += 1;
    if (a.status_state === 'online') s.online += 1;
    if (CHAIN_RANK[a.chain_state] > CHAIN_RANK[s.chain]) s.chain = a.chain_state;
  }
  for (const a of assets) {
    const s = get(a.site);
    const p = a.payload;
    s.level = maxLevel([s.level, typeof p.site_level === 'string' ? p.site_level : 'normal']);
    s.score = Math.max(s.score, typeof p.site_score === 'number' ? p.site_score : 0);
    s.devices += Array.isArray(p.devices) ? p.devices.length : 0;
    s.updated_ms = Math.max(s.updated_ms ?? 0, a.received_ms);
  }
  return [...sites.values()].sort((a, b) => a.site.localeCompare(b.site));
}

export interface LevelStep {
  ms: number;
  level: SiteLevel;
  score: number;
}

/**
 * A site's warning level over time from its agents' history points (oldest first): at each point
 * the highest level and score among the agents' latest points. Consecutive equal steps merge.
 */
export function siteTimeline(points: readonly AssetsPoint[]): LevelStep[] {
  const latest = new Map<string, AssetsPoint>();
  const out: LevelStep[] = [];
  for (const p of [...points].sort((a, b) => a.received_ms - b.received_ms)) {
    latest.set(p.agent, p);
    const step: LevelStep = { ms: p.received_ms, level: maxLevel([...latest.values()].map((x) => x.site_level)), score: Math.max(...[...latest.values()].map((x) => x.site_score)) };
    const prev = out[out.length - 1];
    if (prev && prev.level === step.level && prev.score === step.score) continue;
    if (prev && prev.ms === step.ms) out.pop();
    out.push(step);
  }
  return out;
}

/** One device's risk score over time (a step series; points where it did not change are dropped). */
export function deviceSeries(points: readonly AssetsPoint[], agent: string, device: string): Array<{ ms: number; score: number }> {
  const out: Array<{ ms: number; score: number }> = [];
  for (const p of points) {
    if (p.agent !== agent || !(device in p.devices)) continue;
    const score = p.devices[device]!;
    if (out.length > 0 && out[out.length - 1]!.score === score) continue;
    out.push({ ms: p.received_ms, score });
  }
  return out;
}

export type AlertState = 'open' | 'acknowledged' | 'resolved';

export interface AlertProgress {
  state: AlertState;
  assignee?: string;
  acknowledged_by?: string;
  resolved_by?: string;
  summary?: string;
  steps: number;
}

/** Where an alert stands after its response steps (oldest first). */
export function alertProgress(steps: readonly StoredResponse[]): AlertProgress {
  const p: AlertProgress = { state: 'open', steps: steps.length };
  for (const s of steps) {
    if (s.action === 'ack' && p.state === 'open') {
      p.state = 'acknowledged';
      p.acknowledged_by = s.by;
    } else if (s.action === 'assign') {
      p.assignee = s.text;
    } else if (s.action === 'resolve') {
      p.state = 'resolved';
      p.resolved_by = s.by;
      p.summary = s.text;
    }
  }
  return p;
}

/** Why a response step cannot be taken now, or undefined when it can. */
export function stepProblem(p: AlertProgress, action: string): string | undefined {
  if (p.state === 'resolved') return 'the alert is resolved; its history is closed';
  if (action === 'ack' && p.state === 'acknowledged') return 'the alert is acknowledged already';
  return undefined;
}
