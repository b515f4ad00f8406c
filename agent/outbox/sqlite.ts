// The SQLite outbox (better-sqlite3, WAL). Design constraints:
// - An event is committed (fsynced: synchronous=FULL) before append() returns, so neither
//   kill -9 nor a power cut loses it. WAL + NORMAL would survive kill -9 but may roll back the
//   last commits on power loss; FULL costs one WAL fsync per transaction, which batching per
//   poll cycle amortises. Acks commit with NORMAL: losing one only means a resend.
// - Rows: events(seq PK, severity rank, created_ms wall clock at commit, held_ms outbox clock
//   at commit (clock.ts; what retention ages by), bytes, gap flag for the outbox's own gap
//   events, payload, and refused_ms/refused_code/refused_reason once the broker refused it for
//   good). The payload is the canonical JSON of the signal (canonical.ts), published byte for byte.
// - Format 2 added held_ms, the refused columns and meta.clock_ms; a format 1 file is migrated
//   in place (ALTER TABLE). Its events get held_ms 0 on a clock starting at 0: their age counts
//   from the migration, since their wall-clock created_ms cannot be trusted.
// - Refused events stay stored (not pending, counted in stats().refused) until retry() makes
//   them pending again or retention drops them like any other undelivered event.
// - Events in flight (inflight() until ack()/release()/refuse()) are never dropped by retention.
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
import { CATEGORIES, SEVERITIES, SIGNAL_SCHEMA_VERSION, severityRank, type RiskSignal, type SignalDraft } from '../../rules/signal.js';
import type { OutboxConfig } from '../config/schema.js';
import { GENESIS_HASH, sealSignal } from './canonical.js';
import { GAP_DROP_RANK, Retention, gapDraft, type Totals } from './retention.js';
import { OutboxError, type Outbox, type OutboxEntry, type OutboxStats, type RefusedEntry, type Refusal } from './types.js';
import { describeSqliteError } from './errors.js';
import { SigningKeyError, ephemeralSigner, type Signer } from '../signing/keys.js';
import { migrate, FORMAT } from './migrate.js';
import { OutboxClock, monotonicMs } from './clock.js';

export interface SqliteOutboxOptions {
  /** database file; its directory is created if missing */
  file: string;
  agent: string;
  site: string;
  limits: OutboxConfig;
  /** wall clock in ms (created_ms, refusal times, gap event ts); injectable for tests */
  now?: () => number;
  /** monotonic ms that drives the outbox clock (age retention); injectable for tests */
  monotonic?: () => number;
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
  private readonly clock: OutboxClock;
  /** seqs published and awaiting PUBACK: retention leaves them alone */
  private readonly flying = new Set<number>();
  private chain: Chain;
  private totals: Totals;
  private refusedCount: number;
  private dropped = 0;
  private closed = false;

  /** `inspecting`: opened by an operator's command; never appends, so needs no signing key. */
  private constructor(
    private readonly opts: SqliteOutboxOptions,
    private readonly inspecting = false,
  ) {
    this.now = opts.now ?? Date.now;
    this.db = this.guard(() => openDatabase(opts));
    try {
      this.insert = this.db.prepare('INSERT INTO events (seq, severity, created_ms, held_ms, bytes, gap, payload) VALUES (?, ?, ?, ?, ?, ?, ?)');
      this.setMeta = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
      this.selectPending = this.db.prepare('SELECT seq, payload FROM events WHERE seq > ? AND refused_ms IS NULL ORDER BY seq LIMIT ?');
      this.deleteOne = this.db.prepare('DELETE FROM events WHERE seq = ? RETURNING bytes');
      this.retention = new Retention(this.db, opts.limits);
      const meta = this.readMeta();
      this.signer = inspecting ? ephemeralSigner() : this.keyFor(meta.get('key_id'));
      this.chain = { seq: Number(meta.get('last_seq') ?? 0), hash: meta.get('last_hash') ?? GENESIS_HASH };
      this.clock = new OutboxClock(Number(meta.get('clock_ms') ?? 0), opts.monotonic ?? monotonicMs);
      const t = this.db.prepare('SELECT count(*) AS count, total(bytes) AS bytes FROM events').get() as Totals;
      this.totals = { count: t.count, bytes: t.bytes };
      this.refusedCount = this.countRefused();
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

  /**
   * Open an existing outbox for an operator's command (list, export, retry) without applying
   * retention and without the signing key (it cannot append); a missing file is an error
   * instead of a new outbox.
   */
  static inspect(opts: SqliteOutboxOptions): SqliteOutbox {
    if (opts.file !== ':memory:' && !fs.existsSync(opts.file)) {
      throw new OutboxError(`outbox ${opts.file} does not exist; check agent.data_dir in the config (the agent creates it on its first run).`, 'outbox_missing');
    }
    return new SqliteOutbox(opts, true);
  }

  append(drafts: readonly SignalDraft[]): RiskSignal[] {
    this.checkOpen();
    if (this.inspecting) throw new OutboxError(`outbox ${this.opts.file}: opened for inspection, it cannot append.`, 'outbox_unavailable');
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
    for (const seq of seqs) this.flying.delete(seq);
  }

  inflight(seqs: readonly number[]): void {
    for (const seq of seqs) this.flying.add(seq);
  }

  release(seqs?: readonly number[]): void {
    if (seqs === undefined) this.flying.clear();
    else for (const seq of seqs) this.flying.delete(seq);
  }

  refuse(seq: number, refusal: Refusal): string | undefined {
    this.checkOpen();
    this.flying.delete(seq);
    const row = this.guard(
      () =>
        this.db
          .prepare('UPDATE events SET refused_ms = ?, refused_code = ?, refused_reason = ? WHERE seq = ? AND refused_ms IS NULL RETURNING payload')
          .get(refusal.at_ms, refusal.reason_code, refusal.reason, seq) as { payload: string } | undefined,
    );
    if (row === undefined) return undefined;
    this.refusedCount++;
    return (JSON.parse(row.payload) as RiskSignal).rule;
  }

  refused(limit: number, afterSeq = 0): RefusedEntry[] {
    this.checkOpen();
    const rows = this.guard(
      () =>
        this.db
          .prepare('SELECT seq, payload, refused_ms, refused_code, refused_reason FROM events WHERE seq > ? AND refused_ms IS NOT NULL ORDER BY seq LIMIT ?')
          .all(afterSeq, limit) as Array<{ seq: number; payload: string; refused_ms: number; refused_code: number; refused_reason: string }>,
    );
    return rows.map((r) => {
      const s = JSON.parse(r.payload) as RiskSignal;
      return { seq: r.seq, rule: s.rule, device: s.device, severity: s.severity, ts: s.ts, reason_code: r.refused_code, reason: r.refused_reason, refused_at: new Date(r.refused_ms).toISOString() };
    });
  }

  entries(limit: number, afterSeq = 0, refusedOnly = false): OutboxEntry[] {
    this.checkOpen();
    const where = refusedOnly ? 'AND refused_ms IS NOT NULL' : '';
    return this.guard(() => this.db.prepare(`SELECT seq, payload FROM events WHERE seq > ? ${where} ORDER BY seq LIMIT ?`).all(afterSeq, limit) as OutboxEntry[]);
  }

  retry(seqs?: readonly number[]): number[] {
    this.checkOpen();
    const stmt = this.db.prepare(
      `UPDATE events SET refused_ms = NULL, refused_code = NULL, refused_reason = NULL WHERE refused_ms IS NOT NULL${seqs === undefined ? '' : ' AND seq = ?'} RETURNING seq`,
    );
    const done = this.guard(() =>
      this.db.transaction(() => (seqs === undefined ? (stmt.all() as Array<{ seq: number }>) : seqs.flatMap((q) => stmt.all(q) as Array<{ seq: number }>)).map((r) => r.seq))(),
    );
    this.refusedCount -= done.length;
    return done.sort((a, b) => a - b);
  }

  depth(): number {
    return this.totals.count - this.refusedCount;
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
    const stats: OutboxStats = { depth: this.depth(), bytes: this.totals.bytes, last_seq: this.chain.seq, dropped: this.dropped, refused: this.refusedCount };
    if (this.refusedCount > 0 && !this.closed) {
      const oldest = this.guard(() => this.db.prepare('SELECT min(seq) AS seq FROM events WHERE refused_ms IS NOT NULL').get() as { seq: number | null });
      if (oldest.seq !== null) stats.oldest_refused_seq = oldest.seq;
    }
    return stats;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Keep the time held so far; a failure here only loses the time since the last commit.
    try {
      this.setMeta.run('clock_ms', String(this.clock.now()));
    } catch {
      // closing anyway
    }
    this.db.close();
  }

  /** One transaction: the drafts, then retention, then a gap event if retention dropped any. */
  private commit(drafts: readonly SignalDraft[]): RiskSignal[] {
    const nowMs = this.now();
    const clockMs = this.clock.now();
    const result = this.guard(() =>
      this.db.transaction(() => {
        const chain: Chain = { ...this.chain };
        const totals: Totals = { ...this.totals };
        const out: RiskSignal[] = [];
        const add = (d: SignalDraft, gap = 0): void => {
          const payload = this.seal(d, chain);
          const bytes = Buffer.byteLength(payload, 'utf8');
          // Gap events go last in the drop order: dropping one only folds it into the next.
          this.insert.run(chain.seq, gap === 1 ? GAP_DROP_RANK : severityRank(d.severity), nowMs, clockMs, bytes, gap, payload);
          totals.count++;
          totals.bytes += bytes;
          out.push(JSON.parse(payload) as RiskSignal);
        };
        for (const d of drafts) add(d);
        const drop = this.retention.apply(totals, clockMs, this.flying);
        if (drop !== undefined) add(gapDraft(this.opts.agent, drop, nowMs), 1);
        if (out.length > 0) {
          this.setMeta.run('last_seq', String(chain.seq));
          this.setMeta.run('last_hash', chain.hash);
        }
        this.setMeta.run('clock_ms', String(clockMs));
        return { out, chain, totals, dropped: drop?.fresh ?? 0, refused: drop === undefined ? this.refusedCount : this.countRefused() };
      })(),
    );
    this.chain = result.chain;
    this.totals = result.totals;
    this.dropped += result.dropped;
    this.refusedCount = result.refused;
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

  private countRefused(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events WHERE refused_ms IS NOT NULL').get() as { n: number }).n;
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
    migrate(db, opts.agent, opts.site);
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
