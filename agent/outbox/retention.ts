// Outbox retention: expire events older than max_age_hours, then, while over max_events or
// max_bytes, drop the least severe unacked events first (oldest first within a severity).
// Every pass that drops something yields one gap event draft so nothing vanishes silently.
// Undelivered gap events are folded into the next one (counts add up, seq range widens,
// `replaces` lists their seqs), so a long outage leaves one pending gap event, not thousands.
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

type Reason = 'max_age' | 'max_events' | 'max_bytes';

export interface DropReport {
  reasons: Reason[];
  counts: DropCounts;
  total: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  /** events dropped by this pass (total also counts what folded gap events reported) */
  fresh: number;
  /** seqs of undelivered gap events this report supersedes */
  replaces: number[];
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
  private readonly hasExpired: Database.Statement;
  private readonly gapRows: Database.Statement;
  private readonly expire: Database.Statement;
  private readonly select: Database.Statement;
  private readonly del: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly limits: OutboxConfig,
  ) {
    this.hasExpired = db.prepare('SELECT 1 FROM events WHERE created_ms < ? LIMIT 1');
    this.gapRows = db.prepare('DELETE FROM events WHERE gap = 1 RETURNING seq, bytes, payload');
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
    const cutoff = nowMs - limits.max_age_hours * 3_600_000;
    const overCount = totals.count > limits.max_events;
    const overBytes = totals.bytes > limits.max_bytes;
    if (!overCount && !overBytes && this.hasExpired.get(cutoff) === undefined) return undefined;

    const report: DropReport = { reasons: [], counts: emptyCounts(), total: 0, bytes: 0, first_seq: Infinity, last_seq: 0, replaces: [], fresh: 0 };
    this.foldGaps(report, totals);
    const note = (r: Row): void => {
      report.counts[SEVERITIES[r.severity] ?? 'info']++;
      report.total++;
      report.fresh++;
      report.bytes += r.bytes;
      report.first_seq = Math.min(report.first_seq, r.seq);
      report.last_seq = Math.max(report.last_seq, r.seq);
      totals.count--;
      totals.bytes -= r.bytes;
    };

    const expired = this.expire.all(cutoff) as Row[];
    if (expired.length > 0) {
      if (!report.reasons.includes('max_age')) report.reasons.push('max_age');
      expired.forEach(note);
    }

    if (totals.count > limits.max_events || totals.bytes > limits.max_bytes) {
      for (const [over, reason] of [[overCount, 'max_events'], [overBytes, 'max_bytes']] as const) {
        if (over && !report.reasons.includes(reason)) report.reasons.push(reason);
      }
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
    return report.total > 0 || report.replaces.length > 0 ? report : undefined;
  }

  /** Delete the pending gap events and add what they reported to this report. */
  private foldGaps(report: DropReport, totals: Totals): void {
    const rows = this.gapRows.all() as Array<{ seq: number; bytes: number; payload: string }>;
    for (const row of rows) {
      totals.count--;
      totals.bytes -= row.bytes;
      report.replaces.push(row.seq);
      report.first_seq = Math.min(report.first_seq, row.seq);
      report.last_seq = Math.max(report.last_seq, row.seq);
      const ev = (JSON.parse(row.payload) as { evidence?: Record<string, unknown> }).evidence ?? {};
      const dropped = (ev.dropped ?? {}) as Partial<DropCounts>;
      for (const s of SEVERITIES) report.counts[s] += Number(dropped[s] ?? 0);
      report.total += Number(ev.dropped_total ?? 0);
      report.bytes += Number(ev.dropped_bytes ?? 0);
      report.first_seq = Math.min(report.first_seq, Number(ev.first_seq ?? Infinity));
      report.last_seq = Math.max(report.last_seq, Number(ev.last_seq ?? 0));
      for (const r of (ev.reasons ?? []) as Reason[]) if (!report.reasons.includes(r)) report.reasons.push(r);
    }
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
      ...(drop.replaces.length > 0 ? { replaces: drop.replaces } : {}),
    },
  };
}
