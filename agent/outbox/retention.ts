// Outbox retention: expire events older than max_age_hours, then, while over max_events or
// max_bytes, drop the least severe unacked events first (oldest first within a severity).
// Every pass that drops something yields one gap event draft so nothing vanishes silently.
import type Database from 'better-sqlite3';
import { SEVERITIES, type SignalDraft } from '../signal.js';
import type { OutboxConfig } from '../config/schema.js';
import { GAP_RULE } from './canonical.js';
import type { DropCounts } from './types.js';

/** Room kept free for the gap event itself (its payload is well under 1 KiB). */
export const GAP_RESERVE_BYTES = 1024;

export interface Totals {
  count: number;
  bytes: number;
}

export interface DropReport {
  reasons: Array<'max_age' | 'max_events' | 'max_bytes'>;
  counts: DropCounts;
  total: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
}

interface Row {
  seq: number;
  severity: number;
  bytes: number;
}

function emptyCounts(): DropCounts {
  return { info: 0, low: 0, medium: 0, high: 0, critical: 0 };
}

/** Retention over one outbox database; statements are prepared once. */
export class Retention {
  private readonly expire: Database.Statement;
  private readonly select: Database.Statement;
  private readonly del: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly limits: OutboxConfig,
  ) {
    this.expire = db.prepare('DELETE FROM events WHERE created_ms < ? RETURNING seq, severity, bytes');
    this.select = db.prepare('SELECT seq, severity, bytes FROM events ORDER BY severity, seq LIMIT ?');
    this.del = db.prepare('DELETE FROM events WHERE seq = ?');
  }

  /**
   * Delete what the limits require, inside the caller's transaction. Updates `totals` in place.
   * Returns what was dropped, or undefined when everything fits.
   */
  apply(totals: Totals, nowMs: number): DropReport | undefined {
    const limits = this.limits;
    const report: DropReport = { reasons: [], counts: emptyCounts(), total: 0, bytes: 0, first_seq: Infinity, last_seq: 0 };
    const note = (r: Row): void => {
      report.counts[SEVERITIES[r.severity] ?? 'info']++;
      report.total++;
      report.bytes += r.bytes;
      report.first_seq = Math.min(report.first_seq, r.seq);
      report.last_seq = Math.max(report.last_seq, r.seq);
      totals.count--;
      totals.bytes -= r.bytes;
    };

    const cutoff = nowMs - limits.max_age_hours * 3_600_000;
    const expired = this.expire.all(cutoff) as Row[];
    if (expired.length > 0) {
      report.reasons.push('max_age');
      expired.forEach(note);
    }

    const overCount = totals.count > limits.max_events;
    const overBytes = totals.bytes > limits.max_bytes;
    if (overCount || overBytes) {
      if (overCount) report.reasons.push('max_events');
      if (overBytes) report.reasons.push('max_bytes');
      // Drop down to the limit minus room for the gap event that reports the drop.
      const targetCount = limits.max_events - 1;
      const targetBytes = limits.max_bytes - GAP_RESERVE_BYTES;
      // Deleted rows leave the index, so each page starts again at the least severe, oldest event.
      while (totals.count > targetCount || totals.bytes > targetBytes) {
        const page = Math.min(Math.max(totals.count - targetCount, 64), 10_000);
        const rows = this.select.all(page) as Row[];
        if (rows.length === 0) break;
        for (const r of rows) {
          if (totals.count <= targetCount && totals.bytes <= targetBytes) break;
          this.del.run(r.seq);
          note(r);
        }
      }
    }
    return report.total > 0 ? report : undefined;
  }
}

/** The gap event that reports a drop: a chained signal like any other. */
export function gapDraft(agent: string, drop: DropReport, nowMs: number): SignalDraft {
  const per = SEVERITIES.filter((s) => drop.counts[s] > 0)
    .map((s) => `${s} ${drop.counts[s]}`)
    .join(', ');
  const why = drop.reasons.includes('max_age') && drop.reasons.length === 1 ? 'older than max_age_hours' : 'over the outbox limits';
  return {
    ts: new Date(nowMs).toISOString(),
    device: agent,
    rule: GAP_RULE,
    category: 'availability',
    severity: 'medium',
    state: 'raised',
    score: 0,
    message:
      `Outbox dropped ${drop.total} undelivered events ${why} (${per}; seq ${drop.first_seq}-${drop.last_seq}); ` +
      'restore the broker link or raise outbox.max_events / max_bytes / max_age_hours.',
    evidence: {
      reasons: drop.reasons,
      dropped_total: drop.total,
      dropped: { ...drop.counts },
      dropped_bytes: drop.bytes,
      first_seq: drop.first_seq,
      last_seq: drop.last_seq,
    },
  };
}
