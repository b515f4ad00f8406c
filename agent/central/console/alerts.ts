// The console's alerts: raised signals no later signal cleared, and central's own findings, each
// with where it stands in the response process (acknowledged, assigned, resolved). A signal alert
// is named by the raising signal's id, a finding by `finding:<id>` (the store's response key).
import type { CentralStore, StoredFinding, StoredResponse, StoredSignal } from '../store/types.js';
import { alertProgress, stepProblem, type AlertProgress } from './views.js';

export interface AlertView extends AlertProgress {
  id: string;
  kind: 'signal' | 'finding';
  site?: string;
  agent?: string;
  device?: string;
  tag?: string;
  /** the agent's rule, or central's finding code (forged, gap, offline, key_changed, ...) */
  rule: string;
  severity: string;
  message: string;
  ts_ms: number;
  score?: number;
  /** signal alerts: still raised at the agent (no clearing signal yet) */
  raised?: boolean;
}

export interface AlertDetail extends AlertView {
  history: StoredResponse[];
  /** the raising signal or the finding as stored */
  record: Record<string, unknown>;
}

const FINDING_PREFIX = 'finding:';

function fromSignal(s: StoredSignal, raised: boolean): Omit<AlertView, keyof AlertProgress> {
  const g = s.signal;
  return { id: g.id, kind: 'signal', site: g.site, agent: g.agent, device: g.device || undefined, tag: g.tag, rule: g.rule, severity: g.severity, message: g.message, ts_ms: Date.parse(g.ts) || s.received_ms, score: g.score, raised };
}

function fromFinding(f: StoredFinding): Omit<AlertView, keyof AlertProgress> {
  return { id: `${FINDING_PREFIX}${f.id}`, kind: 'finding', site: f.site, agent: f.agent, rule: f.code, severity: f.severity, message: f.message, ts_ms: f.ts_ms };
}

function group(steps: readonly StoredResponse[]): Map<string, StoredResponse[]> {
  const m = new Map<string, StoredResponse[]>();
  for (const r of steps) m.set(r.alert, [...(m.get(r.alert) ?? []), r]);
  return m;
}

export interface AlertListQuery {
  site?: string;
  /** also list resolved alerts */
  resolved?: boolean;
  limit?: number;
}

/** Open alerts (signal and finding), newest first. */
export async function listAlerts(store: CentralStore, q: AlertListQuery = {}): Promise<AlertView[]> {
  const limit = q.limit ?? 200;
  const [signals, findings] = await Promise.all([store.openAlertSignals({ site: q.site, limit }), store.listFindings({ site: q.site, limit })]);
  const base = [...signals.map((s) => fromSignal(s, true)), ...findings.map(fromFinding)];
  const steps = group(await store.responsesFor(base.map((a) => a.id)));
  return base
    .map((a) => ({ ...a, ...alertProgress(steps.get(a.id) ?? []) }))
    .filter((a) => q.resolved === true || a.state !== 'resolved')
    .sort((a, b) => b.ts_ms - a.ts_ms)
    .slice(0, limit);
}

/** One alert with its history, or undefined when no signal or finding has this id. */
export async function getAlert(store: CentralStore, id: string): Promise<AlertDetail | undefined> {
  let base: Omit<AlertView, keyof AlertProgress>;
  let record: Record<string, unknown>;
  if (id.startsWith(FINDING_PREFIX)) {
    const n = Number(id.slice(FINDING_PREFIX.length));
    const f = Number.isSafeInteger(n) ? await store.findingById(n) : undefined;
    if (!f) return undefined;
    base = fromFinding(f);
    record = { ...f };
  } else {
    const s = await store.signalById(id);
    if (!s || s.signal.state !== 'raised') return undefined;
    const open = await store.openAlertSignals({ site: s.signal.site, limit: 10_000 });
    base = fromSignal(s, open.some((o) => o.signal.id === id));
    record = { ...s.signal, verdict: s.verdict, received_ms: s.received_ms };
  }
  const history = await store.listResponses(base.id);
  return { ...base, ...alertProgress(history), history, record };
}

export type StepResult = { ok: true; alert: AlertDetail } | { ok: false; status: 404 | 409; message: string };

/** Record one response step by `by`, if the alert exists and the step fits where it stands. */
export async function addStep(store: CentralStore, id: string, action: StoredResponse['action'], by: string, text: string | undefined, now: number): Promise<StepResult> {
  const a = await getAlert(store, id);
  if (!a) return { ok: false, status: 404, message: `no alert ${id}` };
  const problem = stepProblem(a, action);
  if (problem) return { ok: false, status: 409, message: problem };
  await store.addResponse({ alert: a.id, action, by, ts_ms: now, text });
  return { ok: true, alert: (await getAlert(store, id))! };
}
