// The SQLite outbox (better-sqlite3, WAL). Design constraints:
// - An event is committed (fsynced: synchronous=FULL) before append() returns, so neither
//   kill -9 nor a power cut loses it. WAL + NORMAL would survive kill -9 but may roll back the
//   last commits on power loss; FULL costs one WAL fsync per transaction, which batching per
//   poll cycle amortises. Acks commit with NORMAL: losing one only means a resend.
// - Rows: events(seq PK, severity rank, created_ms wall clock at commit, bytes, gap flag for
//   the outbox's own gap events, payload). The payload is the canonical JSON of the signal
//   (canonical.ts) and is published byte for byte.
// - Acked events are deleted at once; meta keeps last_seq/last_hash so seq and the hash chain
//   continue across restarts even when the table is empty.
// - The file is opened in exclusive locking mode: a second process on the same file gets a
//   clear error instead of forking the chain.
// - Every event is signed (v2). meta.key_id records the key the chain is signed with; opening
//   the outbox with another key is refused, so a key change is never silent.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { CATEGORIES, SEVERITIES, SIGNAL_SCHEMA_VERSION, severityRank, type RiskSignal, type SignalDraft } from '../signal.js';
import type { OutboxConfig } from '../config/schema.js';
import { GENESIS_HASH, sealSignal } from './canonical.js';
import { Retention, gapDraft, type Totals } from './retention.js';
import { OutboxError, type Outbox, type OutboxEntry, type OutboxStats } from './types.js';
import { describeSqliteError } from './errors.js';
import { SigningKeyError, ephemeralSigner, type Signer } from '../signing/keys.js';

const FORMAT = '1';

export interface SqliteOutboxOptions {
  /** database file; its directory is created if missing */
  file: string;
  agent: string;
  site: string;
  limits: OutboxConfig;
  /** wall clock in ms (age retention, gap event ts); injectable for tests */
  now?: () => number;
  /** FULL (default) survives power loss; NORMAL survives process crashes only */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * The signing key, or a function given the key id this outbox's chain was signed with so far
   * (undefined for a new outbox) that returns it. Default: a throwaway key (tests and tools; the
   * agent passes its data_dir key, see openOutbox).
   */
  signer?: Signer | ((recordedKeyId: string | undefined) => Signer);
}

interface Chain {
  seq: number;
  hash: string;
}

export class SqliteOutbox implements Outbox {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly retention: Retention;
  private readonly insert: Database.Statement;
  private readonly setMeta: Database.Statement;
  private readonly selectPending: Database.Statement;
  private readonly deleteOne: Database.Statement;
  /** signs every event; its public key goes into status and assets */
  readonly signer: Signer;
  private chain: Chain;
  private totals: Totals;
  private dropped = 0;
  private closed = false;

  private constructor(private readonly opts: SqliteOutboxOptions) {
    this.now = opts.now ?? Date.now;
    this.db = this.guard(() => openDatabase(opts));
    try {
      this.insert = this.db.prepare('INSERT INTO events (seq, severity, created_ms, bytes, gap, payload) VALUES (?, ?, ?, ?, ?, ?)');
      this.setMeta = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
      this.selectPending = this.db.prepare('SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
      this.deleteOne = this.db.prepare('DELETE FROM events WHERE seq = ? RETURNING bytes');
      this.retention = new Retention(this.db, opts.limits);
      const meta = this.readMeta();
      this.signer = this.keyFor(meta.get('key_id'));
      this.chain = { seq: Number(meta.get('last_seq') ?? 0), hash: meta.get('last_hash') ?? GENESIS_HASH };
      const t = this.db.prepare('SELECT count(*) AS count, total(bytes) AS bytes FROM events').get() as Totals;
      this.totals = { count: t.count, bytes: t.bytes };
    } catch (e) {
      this.db.close();
      throw e instanceof SigningKeyError ? e : toOutboxError(e, opts.file);
    }
  }

  /** Open (or create) the outbox file; applies retention once. Throws OutboxError with the fix. */
  static open(opts: SqliteOutboxOptions): SqliteOutbox {
    const box = new SqliteOutbox(opts);
    try {
      box.enforceRetention();
    } catch (e) {
      box.close();
      throw e;
    }
    return box;
  }

  append(drafts: readonly SignalDraft[]): RiskSignal[] {
    this.checkOpen();
    drafts.forEach((d, i) => validateDraft(d, i));
    return this.commit(drafts);
  }

  enforceRetention(): RiskSignal | undefined {
    this.checkOpen();
    const out = this.commit([]);
    return out[out.length - 1];
  }

  pending(limit: number, afterSeq = 0): OutboxEntry[] {
    this.checkOpen();
    if (limit <= 0) return [];
    return this.guard(() => this.selectPending.all(afterSeq, limit) as OutboxEntry[]);
  }

  ack(seqs: readonly number[]): void {
    this.checkOpen();
    if (seqs.length === 0) return;
    // An ack lost in a power cut only means a resend (at-least-once), so acks commit without
    // their own fsync; the next append's FULL commit syncs the WAL, acks included.
    const relax = (this.opts.synchronous ?? 'FULL') === 'FULL';
    const removed = this.guard(() => {
      if (relax) this.db.pragma('synchronous = NORMAL');
      try {
        return this.deleteMany(seqs);
      } finally {
        if (relax) this.db.pragma('synchronous = FULL');
      }
    });
    this.totals.count -= removed.count;
    this.totals.bytes -= removed.bytes;
  }

  depth(): number {
    return this.totals.count;
  }

  private readonly deleteMany = (seqs: readonly number[]): { count: number; bytes: number } =>
    this.db.transaction((list: readonly number[]) => {
      let count = 0;
      let bytes = 0;
      for (const seq of list) {
        const row = this.deleteOne.get(seq) as { bytes: number } | undefined;
        if (row !== undefined) {
          count++;
          bytes += row.bytes;
        }
      }
      return { count, bytes };
    })(seqs);

  stats(): OutboxStats {
    return { depth: this.totals.count, bytes: this.totals.bytes, last_seq: this.chain.seq, dropped: this.dropped };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** One transaction: the drafts, then retention, then a gap event if retention dropped any. */
  private commit(drafts: readonly SignalDraft[]): RiskSignal[] {
    const nowMs = this.now();
    const result = this.guard(() =>
      this.db.transaction(() => {
        const chain: Chain = { ...this.chain };
        const totals: Totals = { ...this.totals };
        const out: RiskSignal[] = [];
        const add = (d: SignalDraft, gap = 0): void => {
          const payload = this.seal(d, chain);
          const bytes = Buffer.byteLength(payload, 'utf8');
          this.insert.run(chain.seq, severityRank(d.severity), nowMs, bytes, gap, payload);
          totals.count++;
          totals.bytes += bytes;
          out.push(JSON.parse(payload) as RiskSignal);
        };
        for (const d of drafts) add(d);
        const drop = this.retention.apply(totals, nowMs);
        if (drop !== undefined) add(gapDraft(this.opts.agent, drop, nowMs), 1);
        if (out.length > 0) {
          this.setMeta.run('last_seq', String(chain.seq));
          this.setMeta.run('last_hash', chain.hash);
        }
        return { out, chain, totals, dropped: drop?.fresh ?? 0 };
      })(),
    );
    this.chain = result.chain;
    this.totals = result.totals;
    this.dropped += result.dropped;
    return result.out;
  }

  /** The signer, checked against the key the chain was signed with; a new key is recorded. */
  private keyFor(recorded: string | undefined): Signer {
    const given = this.opts.signer;
    const signer = typeof given === 'function' ? given(recorded) : (given ?? ephemeralSigner());
    const file = this.opts.file;
    if (recorded === undefined) {
      this.setMeta.run('key_id', signer.keyId);
    } else if (recorded !== signer.keyId) {
      throw new OutboxError(
        `outbox ${file}: its chain is signed with key ${recorded}, but the signing key is ${signer.keyId}; restore the original signing key, ` +
          `or, to start a new chain that consumers see as a new key, move the outbox aside (mv ${file} ${file}.old).`,
        'outbox_key_mismatch',
      );
    }
    return signer;
  }

  /** Give a draft its identity, chain link and signature; returns the canonical payload. */
  private seal(d: SignalDraft, chain: Chain): string {
    const base: Omit<RiskSignal, 'hash' | 'sig'> = {
      v: SIGNAL_SCHEMA_VERSION,
      id: randomUUID(),
      seq: chain.seq + 1,
      ts: d.ts,
      agent: this.opts.agent,
      site: this.opts.site,
      device: d.device,
      tag: d.tag,
      rule: d.rule,
      category: d.category,
      severity: d.severity,
      state: d.state,
      score: d.score,
      message: d.message,
      observed: d.observed,
      expected: d.expected,
      evidence: d.evidence,
      prev_hash: chain.hash,
      key_id: this.signer.keyId,
    };
    // The hash covers exactly the canonical text that is published minus `hash` and `sig`;
    // values JSON cannot hold (undefined, NaN, Date) are normalised by canonicalisation first.
    const { hash, payload } = sealSignal(base, this.signer.sign);
    chain.seq = base.seq;
    chain.hash = hash;
    return payload;
  }

  private readMeta(): Map<string, string> {
    const rows = this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>;
    const meta = new Map(rows.map((r) => [r.key, r.value]));
    const file = this.opts.file;
    if (meta.get('format') !== FORMAT) {
      throw new OutboxError(
        `outbox ${file}: unknown outbox format ${meta.get('format')}; it was written by another otsentry version — move it aside (mv ${file} ${file}.old) and start again.`,
        'outbox_foreign',
      );
    }
    if (meta.get('agent') !== this.opts.agent || meta.get('site') !== this.opts.site) {
      throw new OutboxError(
        `outbox ${file}: belongs to agent ${meta.get('site')}/${meta.get('agent')}, not ${this.opts.site}/${this.opts.agent}; ` +
          'give each agent its own data_dir, or move the file aside once its events are delivered.',
        'outbox_foreign',
      );
    }
    return meta;
  }

  private checkOpen(): void {
    if (this.closed) throw new OutboxError(`outbox ${this.opts.file}: used after close().`, 'outbox_unavailable');
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw toOutboxError(e, this.opts.file);
    }
  }
}

function toOutboxError(e: unknown, file: string): OutboxError {
  if (e instanceof OutboxError) return e;
  const d = describeSqliteError(e, file);
  return new OutboxError(d.message, d.code, { cause: e });
}

function openDatabase(opts: SqliteOutboxOptions): Database.Database {
  if (opts.file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(opts.file)), { recursive: true });
  const db = new Database(opts.file, { timeout: 1000 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
    if (opts.file !== ':memory:' && mode !== 'wal') throw new Error(`journal_mode is ${mode}, WAL refused`);
    db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    db.pragma('journal_size_limit = 67108864');
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        severity INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        gap INTEGER NOT NULL,
        payload TEXT NOT NULL
      ) STRICT;
      CREATE INDEX IF NOT EXISTS events_by_severity ON events (severity, seq);
      CREATE INDEX IF NOT EXISTS events_by_age ON events (created_ms);
      CREATE INDEX IF NOT EXISTS events_gaps ON events (seq) WHERE gap = 1;
    `);
    const init = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
    db.transaction(() => {
      init.run('format', FORMAT);
      init.run('agent', opts.agent);
      init.run('site', opts.site);
    })();
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

function validateDraft(d: SignalDraft, i: number): void {
  const bad = (field: string, want: string): never => {
    throw new OutboxError(`outbox: draft #${i} (rule ${String(d?.rule)}): ${field} must be ${want}.`, 'outbox_invalid_event');
  };
  if (typeof d !== 'object' || d === null) bad('the draft', 'an object');
  if (typeof d.ts !== 'string' || d.ts === '') bad('ts', 'an ISO 8601 string');
  if (typeof d.device !== 'string' || d.device === '') bad('device', 'a non-empty string');
  if (typeof d.rule !== 'string' || d.rule === '') bad('rule', 'a non-empty string');
  if (!SEVERITIES.includes(d.severity)) bad('severity', SEVERITIES.join('|'));
  if (!CATEGORIES.includes(d.category)) bad('category', CATEGORIES.join('|'));
  if (d.state !== 'raised' && d.state !== 'cleared') bad('state', 'raised|cleared');
  if (typeof d.score !== 'number' || !Number.isFinite(d.score)) bad('score', 'a finite number');
  if (typeof d.message !== 'string') bad('message', 'a string');
}
