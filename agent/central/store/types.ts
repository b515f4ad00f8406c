// The central store's one interface: signals (deduped by id, numbered in arrival order), agents
// with their pinned keys, retained assets, central findings, the console's alert response
// records, and a cursor per output (SIEM). SQLite (sqlite.ts) and PostgreSQL (postgres.ts)
// implement it; test/central/store.contract.ts runs one suite against both.
import type { RiskSignal } from '../../../rules/signal.js';

/** How central judged a signal it stored (refused signals are not stored: they become findings). */
export type SignalVerdict = 'verified' | 'unsigned';

export interface SignalInput {
  signal: RiskSignal;
  /** the payload exactly as received (canonical JSON from a well-behaved agent) */
  payload: string;
  verdict: SignalVerdict;
  /** wall-clock ms when central received it */
  received_ms: number;
}

export interface StoredSignal extends SignalInput {
  /** rises by one per stored signal across all central processes sharing the store: the cursor */
  arrival: number;
}

export interface SignalQuery {
  site?: string;
  agent?: string;
  device?: string;
  /** only signals received at or after this wall-clock ms */
  since_ms?: number;
  /** newest first; default 100 */
  limit?: number;
}

/** A key an agent announced (status/assets `signing_key`), as central holds it. */
export interface AgentKey {
  key_id: string;
  /** SPKI PEM */
  public_key: string;
}

export interface AgentRecord {
  site: string;
  agent: string;
  /** the key signals must verify with; set on first sight, changed only by `central keys accept` */
  pinned?: AgentKey & { pinned_ms: number; pinned_by: string };
  /** a different key the agent announced later, waiting for an operator */
  pending?: AgentKey & { seen_ms: number };
  /** last retained status payload and its state */
  status?: Record<string, unknown>;
  status_state?: 'online' | 'offline';
  status_ms?: number;
  /** highest seq stored (a patch never lowers it), and when it last rose */
  last_seq: number;
  last_seq_ms?: number;
  /** every seq up to this one is stored or covered by a gap event, and each link checked */
  chain_seq: number;
  chain_hash?: string;
  /** 'verified' | 'gap' (uncovered gap past grace) | 'broken' (a bad link or forged signal) */
  chain_state: ChainState;
  first_seen_ms: number;
  last_seen_ms: number;
}

export type ChainState = 'verified' | 'gap' | 'broken';

/** Fields an update may set; absent fields stay as they are. */
export type AgentPatch = Partial<Omit<AgentRecord, 'site' | 'agent' | 'pinned' | 'first_seen_ms'>>;

export interface AssetsRecord {
  site: string;
  agent: string;
  /** the retained assets payload as parsed (devices, site_level, site_score, signing_key, ...) */
  payload: Record<string, unknown>;
  received_ms: number;
}

/**
 * One point of an agent's warning-level history (the console's timeline and risk charts): kept
 * when an assets payload changes the site level, the site score or a device's risk score.
 */
export interface AssetsPoint {
  site: string;
  agent: string;
  received_ms: number;
  /** the agent's site level (normal, elevated, high, severe) */
  site_level: string;
  site_score: number;
  /** device id -> risk score 0-100 */
  devices: Record<string, number>;
}

export interface AssetsHistoryQuery {
  site?: string;
  agent?: string;
  since_ms?: number;
  /** the newest points, returned oldest first; default 1000 */
  limit?: number;
}

export interface OpenAlertQuery {
  site?: string;
  /** newest first; default 200 */
  limit?: number;
}

export type FindingCode =
  | 'malformed'
  | 'oversized'
  | 'unknown_agent'
  | 'replayed'
  | 'edited'
  | 'forged'
  | 'bad_signature'
  | 'unsigned'
  | 'key_changed'
  | 'seq_conflict'
  | 'chain_broken'
  | 'gap'
  | 'stalled'
  | 'offline';

export type FindingSeverity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export interface FindingInput {
  code: FindingCode;
  severity: FindingSeverity;
  site?: string;
  agent?: string;
  seq?: number;
  message: string;
  /** what was received (truncated payload, topic, key ids, ...) */
  evidence?: Record<string, unknown>;
  /** findings with the same key are raised once (two central processes, repeated sweeps) */
  dedupe_key?: string;
  ts_ms: number;
}

export interface StoredFinding extends FindingInput {
  id: number;
}

export interface FindingQuery {
  site?: string;
  agent?: string;
  code?: FindingCode;
  since_ms?: number;
  /** newest first; default 100 */
  limit?: number;
}

/** One step of the response process on an alert (console §5); every step says who and when. */
export type ResponseAction = 'ack' | 'assign' | 'annotate' | 'resolve';

export interface ResponseInput {
  /** what the console calls the alert: e.g. the id of the raising signal, or `finding:<id>` */
  alert: string;
  action: ResponseAction;
  by: string;
  ts_ms: number;
  /** assign: the assignee; annotate: the note; resolve: the summary */
  text?: string;
}

export interface StoredResponse extends ResponseInput {
  id: number;
}

export interface RetentionLimits {
  /** drop signals, findings and assets history older than this (by received/ts ms) */
  max_age_ms?: number;
  /** keep the stored signal payloads under about this many bytes, oldest dropped first */
  max_bytes?: number;
  now_ms: number;
}

export interface PruneResult {
  signals: number;
  findings: number;
}

export interface InsertResult {
  /** arrival numbers of the signals newly stored, in input order; undefined where the id was already stored */
  arrivals: Array<number | undefined>;
}

export interface CentralStore {
  readonly kind: 'sqlite' | 'postgres';
  /** create or migrate the schema; idempotent, safe with several processes */
  init(): Promise<void>;
  close(): Promise<void>;

  /** store signals in one transaction, deduped by id; arrival numbers rise in commit order */
  insertSignals(rows: readonly SignalInput[]): Promise<InsertResult>;
  /** the stored signal with this id */
  signalById(id: string): Promise<StoredSignal | undefined>;
  /** stored signals of one agent with seq in [from, to], by seq */
  signalsBySeq(site: string, agent: string, from: number, to: number): Promise<StoredSignal[]>;
  /** stored outbox gap events of one agent with seq > after_seq, by seq (they cover holes before them) */
  gapSignals(site: string, agent: string, after_seq: number): Promise<StoredSignal[]>;
  /** the SIEM's read: signals with arrival > cursor, in arrival order, at most `limit` */
  signalsAfter(cursor: number, limit: number): Promise<StoredSignal[]>;
  /** the console's read: newest first */
  listSignals(q?: SignalQuery): Promise<StoredSignal[]>;
  countSignals(): Promise<number>;

  getAgent(site: string, agent: string): Promise<AgentRecord | undefined>;
  listAgents(): Promise<AgentRecord[]>;
  /** create the agent when new (first_seen/last_seen = now) and apply the patch */
  touchAgent(site: string, agent: string, patch: AgentPatch, now_ms: number): Promise<AgentRecord>;
  /** advance chain_seq only from `expect_seq` (compare-and-set); false when another process moved it */
  advanceChain(site: string, agent: string, expect_seq: number, patch: Pick<AgentRecord, 'chain_seq' | 'chain_hash'> & { chain_state?: ChainState }): Promise<boolean>;
  /**
   * Pin `key` when the agent has no pinned key yet (atomic across processes). Returns the pinned
   * key afterwards: equal to `key` when it was pinned now or before, another one on a key change.
   */
  pinKeyIfNone(site: string, agent: string, key: AgentKey, by: string, now_ms: number): Promise<AgentKey>;
  /** operator command: pin this key (clears the pending one) */
  acceptKey(site: string, agent: string, key: AgentKey, by: string, now_ms: number): Promise<void>;

  /** keep the latest assets of the agent, and a history point when its levels or scores changed */
  putAssets(rec: AssetsRecord): Promise<void>;
  getAssets(site: string, agent: string): Promise<AssetsRecord | undefined>;
  listAssets(site?: string): Promise<AssetsRecord[]>;
  /** warning-level and risk history points, oldest first (the newest `limit`) */
  assetsHistory(q?: AssetsHistoryQuery): Promise<AssetsPoint[]>;
  /**
   * Raised signals above info that no later signal of the same alert cleared (same agent, rule,
   * device, tag and evidence.condition, as the agent's alert key), newest first.
   */
  openAlertSignals(q?: OpenAlertQuery): Promise<StoredSignal[]>;

  /** store a finding; undefined when its dedupe_key was raised before */
  addFinding(f: FindingInput): Promise<StoredFinding | undefined>;
  listFindings(q?: FindingQuery): Promise<StoredFinding[]>;
  findingById(id: number): Promise<StoredFinding | undefined>;
  /** the SIEM's read: findings with id > after, oldest first, at most `limit` (ids rise in commit order) */
  findingsAfter(after: number, limit: number): Promise<StoredFinding[]>;
  /** how many signals (by arrival) and findings (by id) lie beyond an output's cursors: its backlog */
  countSignalsAfter(cursor: number): Promise<number>;
  countFindingsAfter(after: number): Promise<number>;

  addResponse(r: ResponseInput): Promise<StoredResponse>;
  /** response steps of one alert (or of all when absent), oldest first */
  listResponses(alert?: string): Promise<StoredResponse[]>;
  /** response steps of these alerts, oldest first */
  responsesFor(alerts: readonly string[]): Promise<StoredResponse[]>;

  /** an output's cursor (an arrival number; 0 when never set) */
  getCursor(output: string): Promise<number>;
  setCursor(output: string, arrival: number): Promise<void>;

  prune(limits: RetentionLimits): Promise<PruneResult>;
}
