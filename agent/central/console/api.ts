// The console's read endpoints: what each page asks for, assembled from the store. Every function
// takes the parsed query and returns a JSON-ready object; server.ts checks the session first.
import { assetsPoint } from '../store/rows.js';
import type { AgentRecord, AssetsPoint, AssetsRecord, CentralStore, FindingCode, StoredSignal } from '../store/types.js';
import { listAlerts } from './alerts.js';
import { deviceSeries, siteSummaries, siteTimeline } from './views.js';

/** History the charts reach back to by default. */
export const DEFAULT_HISTORY_MS = 24 * 3600 * 1000;
const clampInt = (v: string | null, def: number, min: number, max: number) => {
  const n = v === null ? def : Number(v);
  return Number.isInteger(n) ? Math.min(max, Math.max(min, n)) : def;
};

/**
 * History points of a window, plus one at its start for every agent without a point inside it: such
 * an agent did not change during the window, so its current assets hold for all of it.
 */
function windowPoints(points: readonly AssetsPoint[], assets: readonly AssetsRecord[], since: number): AssetsPoint[] {
  const moving = new Set(points.map((p) => `${p.site}/${p.agent}`));
  const still = assets.filter((a) => !moving.has(`${a.site}/${a.agent}`)).map((a) => ({ ...assetsPoint(a), received_ms: since }));
  return [...still, ...points];
}

function agentView(a: AgentRecord) {
  const st = a.status ?? {};
  return {
    site: a.site,
    agent: a.agent,
    status: a.status_state ?? 'unknown',
    status_ms: a.status_ms,
    version: typeof st.version === 'string' ? st.version : undefined,
    reason: typeof st.reason === 'string' ? st.reason : undefined,
    chain_state: a.chain_state,
    chain_seq: a.chain_seq,
    last_seq: a.last_seq,
    last_seq_ms: a.last_seq_ms,
    key_id: a.pinned?.key_id,
    key_pending: a.pending?.key_id,
    last_seen_ms: a.last_seen_ms,
  };
}

export function signalView(s: StoredSignal) {
  const g = s.signal;
  return { id: g.id, arrival: s.arrival, seq: g.seq, ts: g.ts, received_ms: s.received_ms, site: g.site, agent: g.agent, device: g.device, tag: g.tag, rule: g.rule, category: g.category, severity: g.severity, state: g.state, score: g.score, message: g.message, observed: g.observed, expected: g.expected, verdict: s.verdict };
}

function deviceViews(a: AssetsRecord) {
  const devices = Array.isArray(a.payload.devices) ? (a.payload.devices as Array<Record<string, unknown>>) : [];
  return devices.map((d) => ({
    agent: a.agent,
    id: String(d.id ?? ''),
    protocol: d.protocol,
    address: d.address,
    identity: d.identity,
    link: d.link,
    risk_score: typeof d.risk_score === 'number' ? d.risk_score : 0,
    active_alerts: typeof d.active_alerts === 'number' ? d.active_alerts : 0,
  }));
}

export async function sitesOverview(store: CentralStore, now: number) {
  const since = now - DEFAULT_HISTORY_MS;
  const [agents, assets, points, alerts] = await Promise.all([store.listAgents(), store.listAssets(), store.assetsHistory({ since_ms: since, limit: 5000 }), listAlerts(store)]);
  const history = windowPoints(points, assets, since);
  return {
    now_ms: now,
    sites: siteSummaries(agents, assets).map((s) => ({
      ...s,
      open_alerts: alerts.filter((a) => a.site === s.site).length,
      timeline: siteTimeline(history.filter((p) => p.site === s.site)),
    })),
    // Findings about no agent (a malformed payload on an unknown topic) belong to no site.
    unsited_alerts: alerts.filter((a) => a.site === undefined).length,
  };
}

export async function siteDetail(store: CentralStore, site: string, q: URLSearchParams, now: number) {
  const since = now - clampInt(q.get('hours'), 24, 1, 24 * 90) * 3600 * 1000;
  const [agents, assets, points, alerts] = await Promise.all([store.listAgents(), store.listAssets(site), store.assetsHistory({ site, since_ms: since, limit: 10_000 }), listAlerts(store, { site })]);
  const history = windowPoints(points, assets, since);
  const mine = agents.filter((a) => a.site === site);
  if (mine.length === 0 && assets.length === 0) return undefined;
  const summary = siteSummaries(mine, assets)[0]!;
  const devices = assets.flatMap(deviceViews).map((d) => ({
    ...d,
    open_alerts: alerts.filter((a) => a.kind === 'signal' && a.agent === d.agent && a.device === d.id).length,
    series: deviceSeries(history, d.agent, d.id),
  }));
  return { now_ms: now, since_ms: since, summary, timeline: siteTimeline(history), agents: mine.map(agentView), devices, alerts };
}

export async function signalsList(store: CentralStore, q: URLSearchParams) {
  const list = await store.listSignals({ site: q.get('site') ?? undefined, agent: q.get('agent') ?? undefined, device: q.get('device') ?? undefined, limit: clampInt(q.get('limit'), 100, 1, 1000) });
  return { signals: list.map(signalView) };
}

export async function findingsList(store: CentralStore, q: URLSearchParams) {
  const code = q.get('code') ?? undefined;
  const findings = await store.listFindings({ site: q.get('site') ?? undefined, agent: q.get('agent') ?? undefined, code: code as FindingCode | undefined, limit: clampInt(q.get('limit'), 100, 1, 1000) });
  return { findings };
}

export async function agentsList(store: CentralStore) {
  return { agents: (await store.listAgents()).map(agentView) };
}
