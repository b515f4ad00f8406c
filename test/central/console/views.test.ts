// The console's pure parts: site summaries and timelines from history points, device risk series,
// where an alert stands after its response steps.
import { describe, expect, it } from 'vitest';
import type { AgentRecord, AssetsPoint, StoredResponse } from '../../../agent/central/store/types.js';
import { alertProgress, deviceSeries, siteSummaries, siteTimeline, stepProblem } from '../../../agent/central/console/views.js';

const pt = (agent: string, ms: number, level: string, score: number, devices: Record<string, number> = {}): AssetsPoint => ({ site: 'plant-a', agent, received_ms: ms, site_level: level, site_score: score, devices });
const agent = (a: string, over: Partial<AgentRecord> = {}): AgentRecord => ({ site: 'plant-a', agent: a, last_seq: 0, chain_seq: 0, chain_state: 'verified', first_seen_ms: 0, last_seen_ms: 0, ...over });
const step = (action: StoredResponse['action'], by: string, text?: string): StoredResponse => ({ id: 0, alert: 'a', action, by, ts_ms: 0, text });

describe('console views', () => {
  it('a site takes the highest level and score of its agents and the worst chain state', () => {
    const sites = siteSummaries(
      [agent('gw-1', { status_state: 'online' }), agent('gw-2', { status_state: 'offline', chain_state: 'gap' }), agent('gw-3', { chain_state: 'broken', site: 'plant-b' })],
      [
        { site: 'plant-a', agent: 'gw-1', received_ms: 5, payload: { site_level: 'elevated', site_score: 30, devices: [{}, {}] } },
        { site: 'plant-a', agent: 'gw-2', received_ms: 9, payload: { site_level: 'high', site_score: 20, devices: [{}] } },
      ],
    );
    expect(sites).toEqual([
      { site: 'plant-a', level: 'high', score: 30, agents: 2, online: 1, devices: 3, chain: 'gap', updated_ms: 9 },
      { site: 'plant-b', level: 'normal', score: 0, agents: 1, online: 0, devices: 0, chain: 'broken' },
    ]);
  });

  it('the timeline holds the highest level among the agents at each change, merging repeats', () => {
    const steps = siteTimeline([pt('gw-1', 10, 'normal', 0), pt('gw-2', 20, 'elevated', 30), pt('gw-1', 30, 'severe', 90), pt('gw-1', 40, 'normal', 5), pt('gw-2', 50, 'elevated', 30), pt('gw-2', 60, 'normal', 0)]);
    expect(steps.map((s) => [s.ms, s.level, s.score])).toEqual([
      [10, 'normal', 0],
      [20, 'elevated', 30],
      [30, 'severe', 90],
      [40, 'elevated', 30],
      [60, 'normal', 5],
    ]);
    expect(siteTimeline([])).toEqual([]);
  });

  it('a device series keeps the points where its score changed', () => {
    const ps = [pt('gw-1', 1, 'normal', 0, { p: 0 }), pt('gw-1', 2, 'normal', 0, { p: 0, q: 5 }), pt('gw-2', 3, 'high', 60, { p: 60 }), pt('gw-1', 4, 'severe', 80, { p: 80 })];
    expect(deviceSeries(ps, 'gw-1', 'p')).toEqual([{ ms: 1, score: 0 }, { ms: 4, score: 80 }]);
    expect(deviceSeries(ps, 'gw-1', 'q')).toEqual([{ ms: 2, score: 5 }]);
  });

  it('an alert is open, acknowledged, assigned and resolved by its steps; a resolved one takes no more', () => {
    expect(alertProgress([])).toEqual({ state: 'open', steps: 0 });
    const p = alertProgress([step('assign', 'alice', 'bob'), step('ack', 'bob'), step('annotate', 'bob', 'x'), step('ack', 'carol'), step('assign', 'bob', 'carol')]);
    expect(p).toEqual({ state: 'acknowledged', acknowledged_by: 'bob', assignee: 'carol', steps: 5 });
    expect(stepProblem(p, 'ack')).toContain('acknowledged already');
    expect(stepProblem(p, 'annotate')).toBeUndefined();
    const done = alertProgress([step('resolve', 'alice', 'false alarm')]);
    expect(done).toMatchObject({ state: 'resolved', resolved_by: 'alice', summary: 'false alarm' });
    for (const a of ['ack', 'assign', 'annotate', 'resolve']) expect(stepProblem(done, a)).toContain('resolved');
  });
});
