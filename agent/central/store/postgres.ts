// The central store on PostgreSQL (`pg`): for several central processes on several hosts.
// Signal and finding inserts hold a transaction-level advisory lock, so arrival numbers and
// finding ids (identity columns) are committed in the order they are taken and a cursor reader
// (the SIEM output) never skips a late commit.
import pg from 'pg';
import { GAP_RULE } from '../../outbox/canonical.js';
import { agentPatchColumns, RISING_COLUMNS, assetsPoint, findingRow, FINDING_COLUMNS, signalRow, SIGNAL_COLUMNS, pointKey, toAgent, toAssets, toAssetsPoint, toFinding, toResponse, toSignal, whereOf, type Row } from './rows.js';
import type { AgentKey, AgentPatch, AgentRecord, AssetsHistoryQuery, AssetsPoint, AssetsRecord, CentralStore, FindingInput, FindingQuery, InsertResult, OpenAlertQuery, PruneResult, ResponseInput, RetentionLimits, SignalInput, SignalQuery, StoredFinding, StoredResponse, StoredSignal } from './types.js';

/** Advisory lock ids (arbitrary constants): schema creation, signal inserts, finding inserts. */
const LOCK_DDL = 0x6f7473_01;
const LOCK_INSERT = 0x6f7473_02;
const LOCK_FINDING = 0x6f7473_03;

/**
 * The latest signal of every alert above info, by the agent's alert key (rule, device, tag,
 * evidence.condition): kept by a statement-level trigger (one set-based upsert per insert batch),
 * so the console's open alerts are one indexed read instead of a scan of every signal.
 */
const ALERT_KEYS_DDL = `
CREATE TABLE IF NOT EXISTS alert_keys (
  site TEXT NOT NULL, agent TEXT NOT NULL, rule TEXT NOT NULL, device TEXT NOT NULL, tag TEXT NOT NULL, cond TEXT NOT NULL,
  seq BIGINT NOT NULL, signal_id TEXT NOT NULL, state TEXT NOT NULL,
  PRIMARY KEY (site, agent, rule, device, tag, cond));
CREATE INDEX IF NOT EXISTS alert_keys_state ON alert_keys (state, site);
CREATE OR REPLACE FUNCTION otsentry_alert_keys() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO alert_keys (site, agent, rule, device, tag, cond, seq, signal_id, state)
  SELECT DISTINCT ON (site, agent, rule, device, tag, cond) site, agent, rule, device, tag, cond, seq, id, state FROM (
    SELECT site, agent, rule, coalesce(device, '') AS device, coalesce(payload::jsonb ->> 'tag', '') AS tag,
      coalesce(payload::jsonb -> 'evidence' ->> 'condition', '') AS cond, seq, id, state
    FROM new_signals WHERE severity <> 'info') t
  ORDER BY site, agent, rule, device, tag, cond, seq DESC
  ON CONFLICT (site, agent, rule, device, tag, cond) DO UPDATE SET seq = EXCLUDED.seq, signal_id = EXCLUDED.signal_id, state = EXCLUDED.state
  WHERE EXCLUDED.seq > alert_keys.seq;
  RETURN NULL;
END $fn$;
CREATE OR REPLACE TRIGGER signals_alert_keys AFTER INSERT ON signals REFERENCING NEW TABLE AS new_signals FOR EACH STATEMENT EXECUTE FUNCTION otsentry_alert_keys();`;

const DDL = `
CREATE TABLE IF NOT EXISTS signals (
  arrival BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE, site TEXT NOT NULL, agent TEXT NOT NULL, seq BIGINT NOT NULL,
  device TEXT, rule TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL, ts TEXT NOT NULL,
  hash TEXT NOT NULL, verdict TEXT NOT NULL, received_ms BIGINT NOT NULL, payload TEXT NOT NULL, bytes INTEGER NOT NULL,
  UNIQUE (site, agent, seq));
CREATE INDEX IF NOT EXISTS signals_received ON signals (received_ms);
CREATE INDEX IF NOT EXISTS signals_rule ON signals (site, agent, rule, seq);
CREATE TABLE IF NOT EXISTS agents (
  site TEXT NOT NULL, agent TEXT NOT NULL,
  pinned_key_id TEXT, pinned_public_key TEXT, pinned_ms BIGINT, pinned_by TEXT,
  pending_key_id TEXT, pending_public_key TEXT, pending_ms BIGINT,
  status TEXT, status_state TEXT, status_ms BIGINT,
  last_seq BIGINT NOT NULL DEFAULT 0, last_seq_ms BIGINT,
  chain_seq BIGINT NOT NULL DEFAULT 0, chain_hash TEXT, chain_state TEXT NOT NULL DEFAULT 'verified',
  first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL,
  PRIMARY KEY (site, agent));
CREATE TABLE IF NOT EXISTS assets (site TEXT NOT NULL, agent TEXT NOT NULL, payload TEXT NOT NULL, received_ms BIGINT NOT NULL, PRIMARY KEY (site, agent));
CREATE TABLE IF NOT EXISTS findings (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code TEXT NOT NULL, severity TEXT NOT NULL, site TEXT, agent TEXT, seq BIGINT,
  message TEXT NOT NULL, evidence TEXT, dedupe_key TEXT UNIQUE, ts_ms BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS findings_ts ON findings (ts_ms);
CREATE TABLE IF NOT EXISTS responses (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, alert TEXT NOT NULL, action TEXT NOT NULL, by_user TEXT NOT NULL, ts_ms BIGINT NOT NULL, text TEXT);
CREATE INDEX IF NOT EXISTS responses_alert ON responses (alert, id);
CREATE TABLE IF NOT EXISTS cursors (output TEXT PRIMARY KEY, arrival BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS assets_history (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, site TEXT NOT NULL, agent TEXT NOT NULL, received_ms BIGINT NOT NULL,
  site_level TEXT NOT NULL, site_score DOUBLE PRECISION NOT NULL, devices TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS assets_history_site ON assets_history (site, received_ms);
CREATE INDEX IF NOT EXISTS assets_history_agent ON assets_history (site, agent, id);
${ALERT_KEYS_DDL}
`;

/** Open alerts: alert keys whose latest signal is raised (see CentralStore.openAlertSignals). */
const OPEN_ALERTS = (where: string, limit: string) => `
SELECT s.* FROM alert_keys k JOIN signals s ON s.id = k.signal_id WHERE k.state = 'raised' ${where}
ORDER BY s.arrival DESC LIMIT ${limit}`;

const SIGNAL_TYPES: Record<(typeof SIGNAL_COLUMNS)[number], string> = {
  id: 'text', site: 'text', agent: 'text', seq: 'bigint', device: 'text', rule: 'text', severity: 'text', state: 'text',
  ts: 'text', hash: 'text', verdict: 'text', received_ms: 'bigint', payload: 'text', bytes: 'integer',
};

// BIGINT (int8) values are read as numbers: every value stored here fits in 2^53.
const types = { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser };

export interface PostgresOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  ssl?: boolean;
  pool_size?: number;
}

export class PostgresStore implements CentralStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(o: PostgresOptions) {
    this.pool = new pg.Pool({ host: o.host, port: o.port, database: o.database, user: o.user, password: o.password, ssl: o.ssl ? { rejectUnauthorized: true } : undefined, max: o.pool_size ?? 4, types });
    // An idle client's error (server restart) must not end the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  async init(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_DDL]);
      await c.query(DDL);
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  private async all(sql: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, values)).rows as Row[];
  }

  private async one(sql: string, values: unknown[] = []): Promise<Row | undefined> {
    return (await this.all(sql, values))[0];
  }

  async insertSignals(rows: readonly SignalInput[]): Promise<InsertResult> {
    if (rows.length === 0) return { arrivals: [] };
    const data = rows.map(signalRow);
    const arrays = SIGNAL_COLUMNS.map((c) => data.map((r) => r[c]));
    const sql =
      `INSERT INTO signals (${SIGNAL_COLUMNS.join(',')}) ` +
      `SELECT ${SIGNAL_COLUMNS.join(',')} FROM unnest(${SIGNAL_COLUMNS.map((c, i) => `$${i + 1}::${SIGNAL_TYPES[c]}[]`).join(',')}) WITH ORDINALITY AS t(${SIGNAL_COLUMNS.join(',')}, ord) ORDER BY ord ` +
      'ON CONFLICT DO NOTHING RETURNING id, arrival';
    const returned = await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_INSERT]);
      return (await c.query(sql, arrays)).rows as Array<{ id: string; arrival: number }>;
    });
    const byId = new Map(returned.map((r) => [r.id, r.arrival]));
    return {
      arrivals: rows.map((r) => {
        const a = byId.get(r.signal.id);
        byId.delete(r.signal.id); // a second copy in the same batch is a duplicate
        return a;
      }),
    };
  }

  async signalById(id: string): Promise<StoredSignal | undefined> {
    const r = await this.one('SELECT * FROM signals WHERE id = $1', [id]);
    return r && toSignal(r);
  }

  async signalsBySeq(site: string, agent: string, from: number, to: number): Promise<StoredSignal[]> {
    return (await this.all('SELECT * FROM signals WHERE site = $1 AND agent = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq', [site, agent, from, to])).map(toSignal);
  }

  async gapSignals(site: string, agent: string, after: number): Promise<StoredSignal[]> {
    return (await this.all('SELECT * FROM signals WHERE site = $1 AND agent = $2 AND rule = $3 AND seq > $4 ORDER BY seq', [site, agent, GAP_RULE, after])).map(toSignal);
  }

  async signalsAfter(cursor: number, limit: number): Promise<StoredSignal[]> {
    return (await this.all('SELECT * FROM signals WHERE arrival > $1 ORDER BY arrival LIMIT $2', [cursor, limit])).map(toSignal);
  }

  async listSignals(q: SignalQuery = {}): Promise<StoredSignal[]> {
    const w = whereOf([['site =', q.site], ['agent =', q.agent], ['device =', q.device], ['received_ms >=', q.since_ms]], (i) => `$${i}`);
    return (await this.all(`SELECT * FROM signals ${w.sql} ORDER BY arrival DESC LIMIT $${w.values.length + 1}`, [...w.values, q.limit ?? 100])).map(toSignal);
  }

  async countSignals(): Promise<number> {
    return Number((await this.one('SELECT count(*)::int AS n FROM signals'))!.n);
  }

  async getAgent(site: string, agent: string): Promise<AgentRecord | undefined> {
    const r = await this.one('SELECT * FROM agents WHERE site = $1 AND agent = $2', [site, agent]);
    return r && toAgent(r);
  }

  async listAgents(): Promise<AgentRecord[]> {
    return (await this.all('SELECT * FROM agents ORDER BY site, agent')).map(toAgent);
  }

  private async ensureAgent(c: pg.PoolClient | pg.Pool, site: string, agent: string, now: number): Promise<void> {
    await c.query('INSERT INTO agents (site, agent, first_seen_ms, last_seen_ms) VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING', [site, agent, now]);
  }

  async touchAgent(site: string, agent: string, patch: AgentPatch, now: number): Promise<AgentRecord> {
    const cols = agentPatchColumns({ last_seen_ms: now, ...patch });
    await this.ensureAgent(this.pool, site, agent, now);
    const r = await this.one(`UPDATE agents SET ${cols.map(([c], i) => (RISING_COLUMNS.has(c) ? `${c} = GREATEST(${c}, $${i + 3})` : `${c} = $${i + 3}`)).join(', ')} WHERE site = $1 AND agent = $2 RETURNING *`, [site, agent, ...cols.map(([, v]) => v)]);
    return toAgent(r!);
  }

  async advanceChain(site: string, agent: string, expect: number, p: Pick<AgentRecord, 'chain_seq' | 'chain_hash'> & { chain_state?: AgentRecord['chain_state'] }): Promise<boolean> {
    const r = await this.pool.query('UPDATE agents SET chain_seq = $4, chain_hash = $5, chain_state = coalesce($6, chain_state) WHERE site = $1 AND agent = $2 AND chain_seq = $3', [site, agent, expect, p.chain_seq, p.chain_hash ?? null, p.chain_state ?? null]);
    return r.rowCount === 1;
  }

  async pinKeyIfNone(site: string, agent: string, key: AgentKey, by: string, now: number): Promise<AgentKey> {
    await this.ensureAgent(this.pool, site, agent, now);
    await this.pool.query('UPDATE agents SET pinned_key_id = $3, pinned_public_key = $4, pinned_ms = $5, pinned_by = $6 WHERE site = $1 AND agent = $2 AND pinned_key_id IS NULL', [site, agent, key.key_id, key.public_key, now, by]);
    const r = (await this.one('SELECT pinned_key_id, pinned_public_key FROM agents WHERE site = $1 AND agent = $2', [site, agent]))!;
    return { key_id: String(r.pinned_key_id), public_key: String(r.pinned_public_key) };
  }

  async acceptKey(site: string, agent: string, key: AgentKey, by: string, now: number): Promise<void> {
    await this.ensureAgent(this.pool, site, agent, now);
    await this.pool.query(
      'UPDATE agents SET pinned_key_id = $3, pinned_public_key = $4, pinned_ms = $5, pinned_by = $6, pending_key_id = NULL, pending_public_key = NULL, pending_ms = NULL WHERE site = $1 AND agent = $2',
      [site, agent, key.key_id, key.public_key, now, by],
    );
  }

  async putAssets(a: AssetsRecord): Promise<void> {
    await this.pool.query('INSERT INTO assets (site, agent, payload, received_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (site, agent) DO UPDATE SET payload = excluded.payload, received_ms = excluded.received_ms', [a.site, a.agent, JSON.stringify(a.payload), a.received_ms]);
    const p = assetsPoint(a);
    const last = await this.one('SELECT site_level, site_score, devices FROM assets_history WHERE site = $1 AND agent = $2 ORDER BY id DESC LIMIT 1', [a.site, a.agent]);
    if (last && pointKey({ site_level: String(last.site_level), site_score: Number(last.site_score), devices: JSON.parse(String(last.devices)) as Record<string, number> }) === pointKey(p)) return;
    await this.pool.query('INSERT INTO assets_history (site, agent, received_ms, site_level, site_score, devices) VALUES ($1, $2, $3, $4, $5, $6)', [p.site, p.agent, p.received_ms, p.site_level, p.site_score, JSON.stringify(p.devices)]);
  }

  async assetsHistory(q: AssetsHistoryQuery = {}): Promise<AssetsPoint[]> {
    const w = whereOf([['site =', q.site], ['agent =', q.agent], ['received_ms >=', q.since_ms]], (i) => `$${i}`);
    return (await this.all(`SELECT * FROM assets_history ${w.sql} ORDER BY id DESC LIMIT $${w.values.length + 1}`, [...w.values, q.limit ?? 1000])).map(toAssetsPoint).reverse();
  }

  async openAlertSignals(q: OpenAlertQuery = {}): Promise<StoredSignal[]> {
    const rows = q.site === undefined ? await this.all(OPEN_ALERTS('', '$1'), [q.limit ?? 200]) : await this.all(OPEN_ALERTS('AND s.site = $1', '$2'), [q.site, q.limit ?? 200]);
    return rows.map(toSignal);
  }

  async getAssets(site: string, agent: string): Promise<AssetsRecord | undefined> {
    const r = await this.one('SELECT * FROM assets WHERE site = $1 AND agent = $2', [site, agent]);
    return r && toAssets(r);
  }

  async listAssets(site?: string): Promise<AssetsRecord[]> {
    const w = whereOf([['site =', site]], (i) => `$${i}`);
    return (await this.all(`SELECT * FROM assets ${w.sql} ORDER BY site, agent`, w.values)).map(toAssets);
  }

  async addFinding(f: FindingInput): Promise<StoredFinding | undefined> {
    const row = findingRow(f);
    const sql = `INSERT INTO findings (${FINDING_COLUMNS.join(',')}) VALUES (${FINDING_COLUMNS.map((_, i) => `$${i + 1}`).join(',')}) ON CONFLICT DO NOTHING RETURNING id`;
    const r = await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_FINDING]);
      return (await c.query(sql, FINDING_COLUMNS.map((k) => row[k]))).rows[0] as Row | undefined;
    });
    return r && { ...f, id: Number(r.id) };
  }

  async findingsAfter(after: number, limit: number): Promise<StoredFinding[]> {
    return (await this.all('SELECT * FROM findings WHERE id > $1 ORDER BY id LIMIT $2', [after, limit])).map(toFinding);
  }

  async countSignalsAfter(cursor: number): Promise<number> {
    return Number((await this.one('SELECT count(*)::int AS n FROM signals WHERE arrival > $1', [cursor]))!.n);
  }

  async countFindingsAfter(after: number): Promise<number> {
    return Number((await this.one('SELECT count(*)::int AS n FROM findings WHERE id > $1', [after]))!.n);
  }

  async listFindings(q: FindingQuery = {}): Promise<StoredFinding[]> {
    const w = whereOf([['site =', q.site], ['agent =', q.agent], ['code =', q.code], ['ts_ms >=', q.since_ms]], (i) => `$${i}`);
    return (await this.all(`SELECT * FROM findings ${w.sql} ORDER BY id DESC LIMIT $${w.values.length + 1}`, [...w.values, q.limit ?? 100])).map(toFinding);
  }

  async findingById(id: number): Promise<StoredFinding | undefined> {
    const r = await this.one('SELECT * FROM findings WHERE id = $1', [id]);
    return r && toFinding(r);
  }

  async addResponse(x: ResponseInput): Promise<StoredResponse> {
    const r = await this.one('INSERT INTO responses (alert, action, by_user, ts_ms, text) VALUES ($1, $2, $3, $4, $5) RETURNING id', [x.alert, x.action, x.by, x.ts_ms, x.text ?? null]);
    return { ...x, id: Number(r!.id) };
  }

  async listResponses(alert?: string): Promise<StoredResponse[]> {
    const w = whereOf([['alert =', alert]], (i) => `$${i}`);
    return (await this.all(`SELECT * FROM responses ${w.sql} ORDER BY id`, w.values)).map(toResponse);
  }

  async responsesFor(alerts: readonly string[]): Promise<StoredResponse[]> {
    if (alerts.length === 0) return [];
    return (await this.all('SELECT * FROM responses WHERE alert = ANY($1::text[]) ORDER BY id', [alerts])).map(toResponse);
  }

  async getCursor(output: string): Promise<number> {
    return Number((await this.one('SELECT arrival FROM cursors WHERE output = $1', [output]))?.arrival ?? 0);
  }

  async setCursor(output: string, arrival: number): Promise<void> {
    await this.pool.query('INSERT INTO cursors (output, arrival) VALUES ($1, $2) ON CONFLICT (output) DO UPDATE SET arrival = excluded.arrival', [output, arrival]);
  }

  async prune(l: RetentionLimits): Promise<PruneResult> {
    let signals = 0;
    let findings = 0;
    if (l.max_age_ms !== undefined) {
      const cut = l.now_ms - l.max_age_ms;
      signals += (await this.pool.query('DELETE FROM signals WHERE received_ms < $1', [cut])).rowCount ?? 0;
      findings += (await this.pool.query('DELETE FROM findings WHERE ts_ms < $1', [cut])).rowCount ?? 0;
      await this.pool.query('DELETE FROM assets_history WHERE received_ms < $1', [cut]);
    }
    if (l.max_bytes !== undefined) {
      const r = await this.one('SELECT max(arrival) AS a FROM (SELECT arrival, sum(bytes) OVER (ORDER BY arrival DESC) AS total FROM signals) t WHERE total > $1', [l.max_bytes]);
      if (r?.a !== null && r?.a !== undefined) signals += (await this.pool.query('DELETE FROM signals WHERE arrival <= $1', [r.a])).rowCount ?? 0;
    }
    // An alert whose latest signal retention dropped is no longer shown.
    if (signals > 0) await this.pool.query('DELETE FROM alert_keys k WHERE NOT EXISTS (SELECT 1 FROM signals s WHERE s.id = k.signal_id)');
    return { signals, findings };
  }
}
