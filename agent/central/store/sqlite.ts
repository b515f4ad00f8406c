// The central store on SQLite (better-sqlite3, WAL): the default, embedded, nothing to install.
// Several central processes may share one file on one host (WAL, busy timeout); arrival numbers
// are the rowid, which rises in commit order because SQLite has one writer at a time.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { GAP_RULE } from '../../outbox/canonical.js';
import { agentPatchColumns, RISING_COLUMNS, assetsPoint, findingRow, FINDING_COLUMNS, signalRow, SIGNAL_COLUMNS, pointKey, toAgent, toAssets, toAssetsPoint, toFinding, toResponse, toSignal, whereOf, type Row } from './rows.js';
import type { AgentKey, AgentPatch, AgentRecord, AssetsHistoryQuery, AssetsPoint, AssetsRecord, CentralStore, FindingInput, FindingQuery, InsertResult, OpenAlertQuery, PruneResult, ResponseInput, RetentionLimits, SignalInput, SignalQuery, StoredFinding, StoredResponse, StoredSignal } from './types.js';

/**
 * The latest signal of every alert above info, by the agent's alert key (rule, device, tag,
 * evidence.condition): kept by a trigger on insert, so the console's open alerts are one indexed
 * read instead of a scan of every signal.
 */
const ALERT_KEYS_DDL = `
CREATE TABLE IF NOT EXISTS alert_keys (
  site TEXT NOT NULL, agent TEXT NOT NULL, rule TEXT NOT NULL, device TEXT NOT NULL, tag TEXT NOT NULL, cond TEXT NOT NULL,
  seq INTEGER NOT NULL, signal_id TEXT NOT NULL, state TEXT NOT NULL,
  PRIMARY KEY (site, agent, rule, device, tag, cond));
CREATE INDEX IF NOT EXISTS alert_keys_state ON alert_keys (state, site);
CREATE TRIGGER IF NOT EXISTS signals_alert_keys AFTER INSERT ON signals WHEN NEW.severity <> 'info' BEGIN
  INSERT INTO alert_keys (site, agent, rule, device, tag, cond, seq, signal_id, state)
  VALUES (NEW.site, NEW.agent, NEW.rule, coalesce(NEW.device, ''), coalesce(json_extract(NEW.payload, '$.tag'), ''), coalesce(json_extract(NEW.payload, '$.evidence.condition'), ''), NEW.seq, NEW.id, NEW.state)
  ON CONFLICT (site, agent, rule, device, tag, cond) DO UPDATE SET seq = excluded.seq, signal_id = excluded.signal_id, state = excluded.state WHERE excluded.seq > alert_keys.seq;
END;`;

const DDL = `
CREATE TABLE IF NOT EXISTS signals (
  arrival INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE, site TEXT NOT NULL, agent TEXT NOT NULL, seq INTEGER NOT NULL,
  device TEXT, rule TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL, ts TEXT NOT NULL,
  hash TEXT NOT NULL, verdict TEXT NOT NULL, received_ms INTEGER NOT NULL, payload TEXT NOT NULL, bytes INTEGER NOT NULL,
  UNIQUE (site, agent, seq));
CREATE INDEX IF NOT EXISTS signals_received ON signals (received_ms);
CREATE INDEX IF NOT EXISTS signals_rule ON signals (site, agent, rule, seq);
CREATE TABLE IF NOT EXISTS agents (
  site TEXT NOT NULL, agent TEXT NOT NULL,
  pinned_key_id TEXT, pinned_public_key TEXT, pinned_ms INTEGER, pinned_by TEXT,
  pending_key_id TEXT, pending_public_key TEXT, pending_ms INTEGER,
  status TEXT, status_state TEXT, status_ms INTEGER,
  last_seq INTEGER NOT NULL DEFAULT 0, last_seq_ms INTEGER,
  chain_seq INTEGER NOT NULL DEFAULT 0, chain_hash TEXT, chain_state TEXT NOT NULL DEFAULT 'verified',
  first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (site, agent));
CREATE TABLE IF NOT EXISTS assets (site TEXT NOT NULL, agent TEXT NOT NULL, payload TEXT NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY (site, agent));
CREATE TABLE IF NOT EXISTS findings (
  id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL, severity TEXT NOT NULL, site TEXT, agent TEXT, seq INTEGER,
  message TEXT NOT NULL, evidence TEXT, dedupe_key TEXT UNIQUE, ts_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS findings_ts ON findings (ts_ms);
CREATE TABLE IF NOT EXISTS responses (id INTEGER PRIMARY KEY AUTOINCREMENT, alert TEXT NOT NULL, action TEXT NOT NULL, by_user TEXT NOT NULL, ts_ms INTEGER NOT NULL, text TEXT);
CREATE INDEX IF NOT EXISTS responses_alert ON responses (alert, id);
CREATE TABLE IF NOT EXISTS cursors (output TEXT PRIMARY KEY, arrival INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS assets_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT, site TEXT NOT NULL, agent TEXT NOT NULL, received_ms INTEGER NOT NULL,
  site_level TEXT NOT NULL, site_score REAL NOT NULL, devices TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS assets_history_site ON assets_history (site, received_ms);
CREATE INDEX IF NOT EXISTS assets_history_agent ON assets_history (site, agent, id);
${ALERT_KEYS_DDL}
`;

/** Open alerts: alert keys whose latest signal is raised (see CentralStore.openAlertSignals). */
const OPEN_ALERTS = (where: string) => `
SELECT s.* FROM alert_keys k JOIN signals s ON s.id = k.signal_id WHERE k.state = 'raised' ${where}
ORDER BY s.arrival DESC LIMIT ?`;

export class SqliteStore implements CentralStore {
  readonly kind = 'sqlite' as const;
  private db!: Database.Database;
  private insert!: Database.Statement;
  private insertMany!: Database.Transaction<(rows: readonly SignalInput[]) => InsertResult>;

  constructor(readonly file: string) {}

  async init(): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL: a commit survives a process crash; a power cut may lose the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(DDL);
    this.insert = this.db.prepare(`INSERT INTO signals (${SIGNAL_COLUMNS.join(',')}) VALUES (${SIGNAL_COLUMNS.map((c) => '@' + c).join(',')}) ON CONFLICT DO NOTHING RETURNING arrival`);
    this.insertMany = this.db.transaction((rows: readonly SignalInput[]) => ({
      arrivals: rows.map((r) => (this.insert.get(signalRow(r)) as { arrival: number } | undefined)?.arrival),
    }));
  }

  async close(): Promise<void> {
    this.db?.close();
  }

  private all(sql: string, ...values: unknown[]): Row[] {
    return this.db.prepare(sql).all(...values) as Row[];
  }

  private one(sql: string, ...values: unknown[]): Row | undefined {
    return this.db.prepare(sql).get(...values) as Row | undefined;
  }

  async insertSignals(rows: readonly SignalInput[]): Promise<InsertResult> {
    return rows.length === 0 ? { arrivals: [] } : this.insertMany.immediate(rows);
  }

  async signalById(id: string): Promise<StoredSignal | undefined> {
    const r = this.one('SELECT * FROM signals WHERE id = ?', id);
    return r && toSignal(r);
  }

  async signalsBySeq(site: string, agent: string, from: number, to: number): Promise<StoredSignal[]> {
    return this.all('SELECT * FROM signals WHERE site = ? AND agent = ? AND seq BETWEEN ? AND ? ORDER BY seq', site, agent, from, to).map(toSignal);
  }

  async gapSignals(site: string, agent: string, after: number): Promise<StoredSignal[]> {
    return this.all('SELECT * FROM signals WHERE site = ? AND agent = ? AND rule = ? AND seq > ? ORDER BY seq', site, agent, GAP_RULE, after).map(toSignal);
  }

  async signalsAfter(cursor: number, limit: number): Promise<StoredSignal[]> {
    return this.all('SELECT * FROM signals WHERE arrival > ? ORDER BY arrival LIMIT ?', cursor, limit).map(toSignal);
  }

  async listSignals(q: SignalQuery = {}): Promise<StoredSignal[]> {
    const w = whereOf([['site =', q.site], ['agent =', q.agent], ['device =', q.device], ['received_ms >=', q.since_ms]], () => '?');
    return this.all(`SELECT * FROM signals ${w.sql} ORDER BY arrival DESC LIMIT ?`, ...w.values, q.limit ?? 100).map(toSignal);
  }

  async countSignals(): Promise<number> {
    return Number(this.one('SELECT count(*) AS n FROM signals')!.n);
  }

  async getAgent(site: string, agent: string): Promise<AgentRecord | undefined> {
    const r = this.one('SELECT * FROM agents WHERE site = ? AND agent = ?', site, agent);
    return r && toAgent(r);
  }

  async listAgents(): Promise<AgentRecord[]> {
    return this.all('SELECT * FROM agents ORDER BY site, agent').map(toAgent);
  }

  async touchAgent(site: string, agent: string, patch: AgentPatch, now: number): Promise<AgentRecord> {
    const cols = agentPatchColumns({ last_seen_ms: now, ...patch });
    this.db.prepare('INSERT INTO agents (site, agent, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(site, agent, now, now);
    this.db.prepare(`UPDATE agents SET ${cols.map(([c]) => (RISING_COLUMNS.has(c) ? `${c} = max(${c}, ?)` : `${c} = ?`)).join(', ')} WHERE site = ? AND agent = ?`).run(...cols.map(([, v]) => v), site, agent);
    return (await this.getAgent(site, agent))!;
  }

  async advanceChain(site: string, agent: string, expect: number, p: Pick<AgentRecord, 'chain_seq' | 'chain_hash'> & { chain_state?: AgentRecord['chain_state'] }): Promise<boolean> {
    const r = this.db
      .prepare('UPDATE agents SET chain_seq = ?, chain_hash = ?, chain_state = coalesce(?, chain_state) WHERE site = ? AND agent = ? AND chain_seq = ?')
      .run(p.chain_seq, p.chain_hash ?? null, p.chain_state ?? null, site, agent, expect);
    return r.changes === 1;
  }

  async pinKeyIfNone(site: string, agent: string, key: AgentKey, by: string, now: number): Promise<AgentKey> {
    this.db.prepare('INSERT INTO agents (site, agent, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(site, agent, now, now);
    this.db.prepare('UPDATE agents SET pinned_key_id = ?, pinned_public_key = ?, pinned_ms = ?, pinned_by = ? WHERE site = ? AND agent = ? AND pinned_key_id IS NULL').run(key.key_id, key.public_key, now, by, site, agent);
    const r = this.one('SELECT pinned_key_id, pinned_public_key FROM agents WHERE site = ? AND agent = ?', site, agent)!;
    return { key_id: String(r.pinned_key_id), public_key: String(r.pinned_public_key) };
  }

  async acceptKey(site: string, agent: string, key: AgentKey, by: string, now: number): Promise<void> {
    this.db.prepare('INSERT INTO agents (site, agent, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(site, agent, now, now);
    this.db
      .prepare('UPDATE agents SET pinned_key_id = ?, pinned_public_key = ?, pinned_ms = ?, pinned_by = ?, pending_key_id = NULL, pending_public_key = NULL, pending_ms = NULL WHERE site = ? AND agent = ?')
      .run(key.key_id, key.public_key, now, by, site, agent);
  }

  async putAssets(a: AssetsRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO assets (site, agent, payload, received_ms) VALUES (?, ?, ?, ?) ON CONFLICT (site, agent) DO UPDATE SET payload = excluded.payload, received_ms = excluded.received_ms')
      .run(a.site, a.agent, JSON.stringify(a.payload), a.received_ms);
    const p = assetsPoint(a);
    const last = this.one('SELECT site_level, site_score, devices FROM assets_history WHERE site = ? AND agent = ? ORDER BY id DESC LIMIT 1', a.site, a.agent);
    if (last && pointKey({ site_level: String(last.site_level), site_score: Number(last.site_score), devices: JSON.parse(String(last.devices)) as Record<string, number> }) === pointKey(p)) return;
    this.db.prepare('INSERT INTO assets_history (site, agent, received_ms, site_level, site_score, devices) VALUES (?, ?, ?, ?, ?, ?)').run(p.site, p.agent, p.received_ms, p.site_level, p.site_score, JSON.stringify(p.devices));
  }

  async assetsHistory(q: AssetsHistoryQuery = {}): Promise<AssetsPoint[]> {
    const w = whereOf([['site =', q.site], ['agent =', q.agent], ['received_ms >=', q.since_ms]], () => '?');
    return this.all(`SELECT * FROM assets_history ${w.sql} ORDER BY id DESC LIMIT ?`, ...w.values, q.limit ?? 1000).map(toAssetsPoint).reverse();
  }

  async openAlertSignals(q: OpenAlertQuery = {}): Promise<StoredSignal[]> {
    return q.site === undefined ? this.all(OPEN_ALERTS(''), q.limit ?? 200).map(toSignal) : this.all(OPEN_ALERTS('AND s.site = ?'), q.site, q.limit ?? 200).map(toSignal);
  }

  async getAssets(site: string, agent: string): Promise<AssetsRecord | undefined> {
    const r = this.one('SELECT * FROM assets WHERE site = ? AND agent = ?', site, agent);
    return r && toAssets(r);
  }

  async listAssets(site?: string): Promise<AssetsRecord[]> {
    const w = whereOf([['site =', site]], () => '?');
    return this.all(`SELECT * FROM assets ${w.sql} ORDER BY site, agent`, ...w.values).map(toAssets);
  }

  async addFinding(f: FindingInput): Promise<StoredFinding | undefined> {
    const row = findingRow(f);
    const r = this.db.prepare(`INSERT INTO findings (${FINDING_COLUMNS.join(',')}) VALUES (${FINDING_COLUMNS.map((c) => '@' + c).join(',')}) ON CONFLICT DO NOTHING RETURNING id`).get(row) as { id: number } | undefined;
    return r && { ...f, id: r.id };
  }

  async listFindings(q: FindingQuery = {}): Promise<StoredFinding[]> {
    const w = whereOf([['site =', q.site], ['agent =', q.agent], ['code =', q.code], ['ts_ms >=', q.since_ms]], () => '?');
    return this.all(`SELECT * FROM findings ${w.sql} ORDER BY id DESC LIMIT ?`, ...w.values, q.limit ?? 100).map(toFinding);
  }

  async findingById(id: number): Promise<StoredFinding | undefined> {
    const r = this.one('SELECT * FROM findings WHERE id = ?', id);
    return r && toFinding(r);
  }

  async findingsAfter(after: number, limit: number): Promise<StoredFinding[]> {
    return this.all('SELECT * FROM findings WHERE id > ? ORDER BY id LIMIT ?', after, limit).map(toFinding);
  }

  async countSignalsAfter(cursor: number): Promise<number> {
    return Number(this.one('SELECT count(*) AS n FROM signals WHERE arrival > ?', cursor)!.n);
  }

  async countFindingsAfter(after: number): Promise<number> {
    return Number(this.one('SELECT count(*) AS n FROM findings WHERE id > ?', after)!.n);
  }

  async addResponse(x: ResponseInput): Promise<StoredResponse> {
    const r = this.db.prepare('INSERT INTO responses (alert, action, by_user, ts_ms, text) VALUES (?, ?, ?, ?, ?) RETURNING id').get(x.alert, x.action, x.by, x.ts_ms, x.text ?? null) as { id: number };
    return { ...x, id: r.id };
  }

  async listResponses(alert?: string): Promise<StoredResponse[]> {
    const w = whereOf([['alert =', alert]], () => '?');
    return this.all(`SELECT * FROM responses ${w.sql} ORDER BY id`, ...w.values).map(toResponse);
  }

  async responsesFor(alerts: readonly string[]): Promise<StoredResponse[]> {
    if (alerts.length === 0) return [];
    return this.all('SELECT * FROM responses WHERE alert IN (SELECT value FROM json_each(?)) ORDER BY id', JSON.stringify(alerts)).map(toResponse);
  }

  async getCursor(output: string): Promise<number> {
    return Number(this.one('SELECT arrival FROM cursors WHERE output = ?', output)?.arrival ?? 0);
  }

  async setCursor(output: string, arrival: number): Promise<void> {
    this.db.prepare('INSERT INTO cursors (output, arrival) VALUES (?, ?) ON CONFLICT (output) DO UPDATE SET arrival = excluded.arrival').run(output, arrival);
  }

  async prune(l: RetentionLimits): Promise<PruneResult> {
    let signals = 0;
    let findings = 0;
    if (l.max_age_ms !== undefined) {
      const cut = l.now_ms - l.max_age_ms;
      signals += this.db.prepare('DELETE FROM signals WHERE received_ms < ?').run(cut).changes;
      findings += this.db.prepare('DELETE FROM findings WHERE ts_ms < ?').run(cut).changes;
      this.db.prepare('DELETE FROM assets_history WHERE received_ms < ?').run(cut);
    }
    if (l.max_bytes !== undefined) {
      // The newest signals whose payloads fit in max_bytes stay; everything older goes.
      const r = this.one('SELECT max(arrival) AS a FROM (SELECT arrival, sum(bytes) OVER (ORDER BY arrival DESC) AS total FROM signals) WHERE total > ?', l.max_bytes);
      if (r?.a !== null && r?.a !== undefined) signals += this.db.prepare('DELETE FROM signals WHERE arrival <= ?').run(r.a).changes;
    }
    // An alert whose latest signal retention dropped is no longer shown.
    if (signals > 0) this.db.prepare('DELETE FROM alert_keys WHERE NOT EXISTS (SELECT 1 FROM signals WHERE signals.id = alert_keys.signal_id)').run();
    return { signals, findings };
  }
}
