// Rows <-> records for both SQL stores: one column list and one mapping, so SQLite and
// PostgreSQL cannot drift apart. Values are plain (numbers, strings, JSON text).
import type { RiskSignal } from '../../../rules/signal.js';
import type { AgentPatch, AgentRecord, AssetsPoint, AssetsRecord, ChainState, FindingInput, StoredFinding, StoredResponse, StoredSignal } from './types.js';

export type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : num(v));
const optStr = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const optJson = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (JSON.parse(String(v)) as T));

export function signalRow(s: StoredSignal | Omit<StoredSignal, 'arrival'>): Row {
  const g = s.signal;
  return {
    id: g.id,
    site: g.site,
    agent: g.agent,
    seq: g.seq,
    device: g.device ?? null,
    rule: g.rule,
    severity: g.severity,
    state: g.state,
    ts: g.ts,
    hash: g.hash,
    verdict: s.verdict,
    received_ms: s.received_ms,
    payload: s.payload,
    bytes: Buffer.byteLength(s.payload),
  };
}

export const SIGNAL_COLUMNS = ['id', 'site', 'agent', 'seq', 'device', 'rule', 'severity', 'state', 'ts', 'hash', 'verdict', 'received_ms', 'payload', 'bytes'] as const;

export function toSignal(r: Row): StoredSignal {
  return { arrival: num(r.arrival), signal: JSON.parse(String(r.payload)) as RiskSignal, payload: String(r.payload), verdict: r.verdict as StoredSignal['verdict'], received_ms: num(r.received_ms) };
}

export function toAgent(r: Row): AgentRecord {
  const a: AgentRecord = {
    site: String(r.site),
    agent: String(r.agent),
    status: optJson(r.status),
    status_state: optStr(r.status_state) as AgentRecord['status_state'],
    status_ms: optNum(r.status_ms),
    last_seq: num(r.last_seq),
    last_seq_ms: optNum(r.last_seq_ms),
    chain_seq: num(r.chain_seq),
    chain_hash: optStr(r.chain_hash),
    chain_state: String(r.chain_state) as ChainState,
    first_seen_ms: num(r.first_seen_ms),
    last_seen_ms: num(r.last_seen_ms),
  };
  if (r.pinned_key_id !== null && r.pinned_key_id !== undefined) {
    a.pinned = { key_id: String(r.pinned_key_id), public_key: String(r.pinned_public_key), pinned_ms: num(r.pinned_ms), pinned_by: String(r.pinned_by) };
  }
  if (r.pending_key_id !== null && r.pending_key_id !== undefined) {
    a.pending = { key_id: String(r.pending_key_id), public_key: String(r.pending_public_key), seen_ms: num(r.pending_ms) };
  }
  for (const k of Object.keys(a) as Array<keyof AgentRecord>) if (a[k] === undefined) delete a[k];
  return a;
}

/** Column/value pairs of an agent patch, in a fixed order. */
/** Columns a patch can only raise (two central processes update one agent with their own views). */
export const RISING_COLUMNS: ReadonlySet<string> = new Set(['last_seq']);

export function agentPatchColumns(p: AgentPatch): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const put = (col: string, v: unknown) => void (v !== undefined && out.push([col, v]));
  put('status', p.status === undefined ? undefined : JSON.stringify(p.status));
  put('status_state', p.status_state);
  put('status_ms', p.status_ms);
  put('last_seq', p.last_seq);
  put('last_seq_ms', p.last_seq_ms);
  put('chain_seq', p.chain_seq);
  put('chain_hash', p.chain_hash);
  put('chain_state', p.chain_state);
  put('last_seen_ms', p.last_seen_ms);
  if (p.pending !== undefined) {
    out.push(['pending_key_id', p.pending.key_id], ['pending_public_key', p.pending.public_key], ['pending_ms', p.pending.seen_ms]);
  }
  return out;
}

export function toAssets(r: Row): AssetsRecord {
  return { site: String(r.site), agent: String(r.agent), payload: JSON.parse(String(r.payload)) as Record<string, unknown>, received_ms: num(r.received_ms) };
}

/** The history point of an assets payload (missing fields read as normal / 0). */
export function assetsPoint(a: AssetsRecord): AssetsPoint {
  const p = a.payload;
  const devices: Record<string, number> = {};
  if (Array.isArray(p.devices)) {
    for (const d of p.devices as unknown[]) {
      const o = d as { id?: unknown; risk_score?: unknown } | null;
      if (o && typeof o.id === 'string') devices[o.id] = typeof o.risk_score === 'number' ? o.risk_score : 0;
    }
  }
  return { site: a.site, agent: a.agent, received_ms: a.received_ms, site_level: typeof p.site_level === 'string' ? p.site_level : 'normal', site_score: typeof p.site_score === 'number' ? p.site_score : 0, devices };
}

/** What must differ for a new history point. */
export function pointKey(p: Pick<AssetsPoint, 'site_level' | 'site_score' | 'devices'>): string {
  return JSON.stringify([p.site_level, p.site_score, p.devices]);
}

export function toAssetsPoint(r: Row): AssetsPoint {
  return { site: String(r.site), agent: String(r.agent), received_ms: num(r.received_ms), site_level: String(r.site_level), site_score: num(r.site_score), devices: JSON.parse(String(r.devices)) as Record<string, number> };
}

export function findingRow(f: FindingInput): Row {
  return {
    code: f.code,
    severity: f.severity,
    site: f.site ?? null,
    agent: f.agent ?? null,
    seq: f.seq ?? null,
    message: f.message,
    evidence: f.evidence === undefined ? null : JSON.stringify(f.evidence),
    dedupe_key: f.dedupe_key ?? null,
    ts_ms: f.ts_ms,
  };
}

export const FINDING_COLUMNS = ['code', 'severity', 'site', 'agent', 'seq', 'message', 'evidence', 'dedupe_key', 'ts_ms'] as const;

export function toFinding(r: Row): StoredFinding {
  const f: StoredFinding = { id: num(r.id), code: r.code as StoredFinding['code'], severity: r.severity as StoredFinding['severity'], message: String(r.message), ts_ms: num(r.ts_ms) };
  if (r.site !== null) f.site = String(r.site);
  if (r.agent !== null) f.agent = String(r.agent);
  if (r.seq !== null) f.seq = num(r.seq);
  if (r.evidence !== null) f.evidence = JSON.parse(String(r.evidence)) as Record<string, unknown>;
  if (r.dedupe_key !== null) f.dedupe_key = String(r.dedupe_key);
  return f;
}

export function toResponse(r: Row): StoredResponse {
  const x: StoredResponse = { id: num(r.id), alert: String(r.alert), action: r.action as StoredResponse['action'], by: String(r.by_user), ts_ms: num(r.ts_ms) };
  if (r.text !== null) x.text = String(r.text);
  return x;
}

/** WHERE clauses of the list queries, with a placeholder function ($1 or ?). */
export function whereOf(filters: Array<[string, unknown]>, ph: (i: number) => string): { sql: string; values: unknown[] } {
  const present = filters.filter(([, v]) => v !== undefined);
  return {
    sql: present.length === 0 ? '' : 'WHERE ' + present.map(([c], i) => `${c} ${ph(i + 1)}`).join(' AND '),
    values: present.map(([, v]) => v),
  };
}
