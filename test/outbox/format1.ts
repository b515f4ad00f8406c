// A format 1 outbox file (before the outbox clock and refused events), as an older agent left it:
// sealed events from a scratch outbox written into the old layout, committed "in 1999" by a
// gateway whose clock was wrong.
import Database from 'better-sqlite3';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import type { RiskSignal } from '../../rules/signal.js';
import type { Signer } from '../../agent/signing/keys.js';
import { drafts, roomyLimits } from './drafts.js';

export function writeFormat1File(file: string, agent: string, site: string, signer: Signer, count = 3): { signals: RiskSignal[]; payloads: { seq: number; payload: string }[] } {
  const scratch = SqliteOutbox.open({ file: ':memory:', agent, site, limits: roomyLimits, signer });
  const signals = scratch.append(drafts(count));
  const payloads = scratch.pending(count);
  scratch.close();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE events (seq INTEGER PRIMARY KEY, severity INTEGER NOT NULL, created_ms INTEGER NOT NULL,
      bytes INTEGER NOT NULL, gap INTEGER NOT NULL, payload TEXT NOT NULL) STRICT;
    CREATE INDEX events_by_severity ON events (severity, seq);
    CREATE INDEX events_by_age ON events (created_ms);
    CREATE INDEX events_gaps ON events (seq) WHERE gap = 1;`);
  const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  const rows: [string, string][] = [['format', '1'], ['agent', agent], ['site', site], ['last_seq', String(count)], ['last_hash', signals[count - 1].hash]];
  for (const [k, v] of rows) meta.run(k, v);
  const ins = db.prepare('INSERT INTO events (seq, severity, created_ms, bytes, gap, payload) VALUES (?, 1, ?, ?, 0, ?)');
  for (const p of payloads) ins.run(p.seq, Date.UTC(1999, 0, 1), Buffer.byteLength(p.payload), p.payload);
  db.close();
  return { signals, payloads };
}
