// Age retention runs in every commit, so its lookup of expired events must use the held_ms index:
// a table scan there made each commit cost ~90 ms with a 400k-event backlog (found by the broker
// outage soak: the agent starved, skipped polls and drained at ~190 events/s instead of thousands).
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { EXPIRED_SQL } from '../../agent/outbox/retention.js';
import { drafts, roomyLimits, tempDir } from './drafts.js';

describe('outbox age retention', () => {
  it('finds expired events through the held_ms index, never by scanning the table', () => {
    const file = path.join(tempDir('expiry-plan'), 'outbox.sqlite');
    const box = SqliteOutbox.open({ file, agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
    box.append(drafts(3));
    box.close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${EXPIRED_SQL}`).all(0) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan.some((d) => /SEARCH events USING (COVERING )?INDEX events_by_held/.test(d)), plan.join('; ')).toBe(true);
      expect(plan.some((d) => /^SCAN events\b/.test(d)), plan.join('; ')).toBe(false);
    } finally {
      db.close();
    }
  });
});
