// The outbox file layout: creates it (format 2) or migrates a format 1 file in place. A file of
// an unknown format or of another agent is left untouched for SqliteOutbox to refuse clearly.
import type Database from 'better-sqlite3';

export const FORMAT = '2';

const EVENTS_V2 = `
  CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    severity INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    held_ms INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL,
    gap INTEGER NOT NULL,
    payload TEXT NOT NULL,
    refused_ms INTEGER,
    refused_code INTEGER,
    refused_reason TEXT
  ) STRICT;`;

/** Format 1 → 2: the outbox clock (held_ms, meta.clock_ms) and refused events. */
const V1_TO_V2 = `
  ALTER TABLE events ADD COLUMN held_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE events ADD COLUMN refused_ms INTEGER;
  ALTER TABLE events ADD COLUMN refused_code INTEGER;
  ALTER TABLE events ADD COLUMN refused_reason TEXT;
  DROP INDEX IF EXISTS events_by_age;`;

const INDEXES = `
  CREATE INDEX IF NOT EXISTS events_by_severity ON events (severity, seq);
  CREATE INDEX IF NOT EXISTS events_by_held ON events (held_ms);
  CREATE INDEX IF NOT EXISTS events_gaps ON events (seq) WHERE gap = 1;
  CREATE INDEX IF NOT EXISTS events_refused ON events (seq) WHERE refused_ms IS NOT NULL;`;

export function migrate(db: Database.Database, agent: string, site: string): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;${EVENTS_V2}`);
    const get = (key: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
    const set = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    const format = get('format');
    if (format === undefined) {
      set.run('format', FORMAT);
      set.run('agent', agent);
      set.run('site', site);
      set.run('clock_ms', '0');
    } else if (format === '1' && get('agent') === agent && get('site') === site) {
      db.exec(V1_TO_V2);
      set.run('format', FORMAT);
      set.run('clock_ms', '0');
    }
    if (get('format') === FORMAT) db.exec(INDEXES);
  })();
}
