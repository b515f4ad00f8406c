// Outbox retention: expire events held longer than max_age_hours, then, while over max_events or
// max_bytes, drop the least severe unacked events first (oldest first within a severity).
// Every pass that drops something yields one gap event draft so nothing vanishes silently.
// Age is measured on the outbox clock (held_ms, see clock.ts), never on the wall clock: a
// gateway that boots in the year 2000 and is stepped by NTP must not expire what it holds.
// Events in flight (published, PUBACK pending) are never dropped: they may be delivered.
// Undelivered gap events are folded into the next one (counts add up, seq range widens,
// `replaces` lists their seqs), so a long outage leaves one pending gap event, not thousands.
// Evidence for verifiers: `dropped_seqs` names every seq that will never be delivered (folded gap
// events included) as merged [first, last] ranges, and `dropped_hashes` gives the hash of the last
// seq of each range: the event after it chains to it, so the chain is checkable across the gap.
// Those lists grow with every separate range, so a pending gap event of GAP_SEAL_BYTES or more
// is sealed: no longer folded (folding it on every append would cost its size each time), kept
// until delivered; the next drop starts a new gap event. Only if retention must drop a sealed one
// itself (gap events come last in the drop order) is it folded after all: nothing it reported is lost.
import type Database from 'better-sqlite3';
import { SEVERITIES, type SignalDraft } from '../../rules/signal.js';
import type { OutboxConfig } from '../config/schema.js';
import { GAP_RULE } from './canonical.js';
import type { DropCounts } from './types.js';

/** Room kept free for the gap event itself (its payload is well under 1 KiB). */
export const GAP_RESERVE_BYTES = 1024;
/** A pending gap event this large is sealed (see above): about 180 dropped ranges. */
export const GAP_SEAL_BYTES = 16 * 1024;
/** Drop-order rank of gap events: after every severity. */
export const GAP_DROP_RANK = SEVERITIES.length;
/**
 * Expired events, oldest seq first. Runs in every commit: without INDEXED BY, SQLite picks a full
 * scan in seq order over the held_ms index (to skip the sort), which costs ~90 ms per commit with
 * a backlog of 400k events and starved the agent during a long broker outage.
 */
export const EXPIRED_SQL = 'SELECT seq FROM events INDEXED BY events_by_held WHERE held_ms < ? ORDER BY seq';

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
  /** every dropped seq as [first, last] ranges, unsorted and unmerged until gapDraft */
  ranges: Array<[number, number]>;
  /** hashes of dropped events by seq, as far as known (range ends are looked up here) */
  hashes: Map<number, string>;
  /** payloads of events dropped by this pass, by seq; the hash is read only for range ends */
  payloads: Map<number, string>;
  /** seqs of sealed gap events: folded only if retention drops them */
  sealed: Set<number>;
}

interface Row {
  seq: number;
  severity: number;
  bytes: number;
  payload: string;
}

function emptyCounts(): DropCounts {
  return { info: 0, low: 0, medium: 0, high: 0, critical: 0 };
}

/** Retention over one outbox database; statements are prepared once. */
export class Retention {
  private readonly expired: Database.Statement;
  private readonly gapRows: Database.Statement;
  private readonly gapPayload: Database.Statement;
  private readonly expire: Database.Statement;
  private readonly select: Database.Statement;
  private readonly del: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly limits: OutboxConfig,
  ) {
    this.expired = db.prepare(EXPIRED_SQL);
    this.gapRows = db.prepare('SELECT seq, bytes FROM events WHERE gap = 1');
    this.gapPayload = db.prepare('SELECT payload FROM events WHERE seq = ?').pluck();
    this.expire = db.prepare('DELETE FROM events WHERE seq = ? RETURNING seq, severity, bytes, payload');
    this.select = db.prepare('SELECT seq, severity, bytes, payload FROM events ORDER BY severity, seq LIMIT ? OFFSET ?');
    this.del = db.prepare('DELETE FROM events WHERE seq = ?');
  }

  /**
   * Delete what the limits require, inside the caller's transaction. Updates `totals` in place.
   * `clockMs` is the outbox clock; `inflight` the seqs awaiting PUBACK, which are never dropped.
   * Returns what was dropped, or undefined when everything fits.
   */
  apply(totals: Totals, clockMs: number, inflight: ReadonlySet<number>): DropReport | undefined {
    const limits = this.limits;
    const cutoff = clockMs - limits.max_age_hours * 3_600_000;
    const overCount = totals.count > limits.max_events;
    const overBytes = totals.bytes > limits.max_bytes;
    const old = (this.expired.all(cutoff) as Array<{ seq: number }>).filter((r) => !inflight.has(r.seq));
    if (!overCount && !overBytes && old.length === 0) return undefined;

    const report: DropReport = { reasons: [], counts: emptyCounts(), total: 0, bytes: 0, first_seq: Infinity, last_seq: 0, replaces: [], fresh: 0, ranges: [], hashes: new Map(), payloads: new Map(), sealed: new Set() };
    this.foldGaps(report, totals);
    const note = (r: Row): void => {
      if (report.sealed.has(r.seq)) {
        foldGap(report, totals, r.seq, r.bytes, r.payload);
        return;
      }
      report.counts[SEVERITIES[r.severity] ?? 'info']++;
      report.total++;
      report.fresh++;
      report.bytes += r.bytes;
      report.first_seq = Math.min(report.first_seq, r.seq);
      report.last_seq = Math.max(report.last_seq, r.seq);
      report.ranges.push([r.seq, r.seq]);
      report.payloads.set(r.seq, r.payload);
      totals.count--;
      totals.bytes -= r.bytes;
    };

    // Gap events among them were folded (deleted) above.
    const expired = old.map((r) => this.expire.get(r.seq) as Row | undefined).filter((r): r is Row => r !== undefined);
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
      // Deleted rows leave the index, so each page starts again at the least severe, oldest
      // event, after the in-flight ones passed over so far (they stay, in the same order).
      let kept = 0;
      while (totals.count > targetCount || totals.bytes > targetBytes) {
        const page = Math.min(Math.max(totals.count - targetCount, 64), 10_000);
        const rows = this.select.all(page, kept) as Row[];
        if (rows.length === 0) break;
        for (const r of rows) {
          if (totals.count <= targetCount && totals.bytes <= targetBytes) break;
          if (inflight.has(r.seq)) {
            kept++;
            continue;
          }
          this.del.run(r.seq);
          note(r);
        }
      }
    }
    return report.total > 0 || report.replaces.length > 0 ? report : undefined;
  }

  /** Delete the pending gap events that are not sealed and add what they reported to this report. */
  private foldGaps(report: DropReport, totals: Totals): void {
    for (const row of this.gapRows.all() as Array<{ seq: number; bytes: number }>) {
      if (row.bytes >= GAP_SEAL_BYTES) {
        report.sealed.add(row.seq);
        continue;
      }
      const payload = this.gapPayload.get(row.seq) as string;
      this.del.run(row.seq);
      foldGap(report, totals, row.seq, row.bytes, payload);
    }
  }
}

/** Add what a deleted, undelivered gap event reported to this report. */
function foldGap(report: DropReport, totals: Totals, seq: number, bytes: number, payload: string): void {
  totals.count--;
  totals.bytes -= bytes;
  report.replaces.push(seq);
  report.first_seq = Math.min(report.first_seq, seq);
  report.last_seq = Math.max(report.last_seq, seq);
  const gap = JSON.parse(payload) as { hash: string; evidence?: Record<string, unknown> };
  const ev = gap.evidence ?? {};
  // The folded gap event itself is never delivered either: its seq joins the dropped ones.
  report.ranges.push([seq, seq]);
  report.hashes.set(seq, gap.hash);
  foldEvidence(report, ev);
  const dropped = (ev.dropped ?? {}) as Partial<DropCounts>;
  for (const s of SEVERITIES) report.counts[s] += Number(dropped[s] ?? 0);
  report.total += Number(ev.dropped_total ?? 0);
  report.bytes += Number(ev.dropped_bytes ?? 0);
  report.first_seq = Math.min(report.first_seq, Number(ev.first_seq ?? Infinity));
  report.last_seq = Math.max(report.last_seq, Number(ev.last_seq ?? 0));
  for (const r of (ev.reasons ?? []) as Reason[]) if (!report.reasons.includes(r)) report.reasons.push(r);
}

/** Take over a folded gap event's dropped ranges and range-end hashes (v1 ones: first..last). */
function foldEvidence(report: DropReport, ev: Record<string, unknown>): void {
  if (Array.isArray(ev.dropped_seqs)) {
    for (const r of ev.dropped_seqs as Array<[number, number]>) report.ranges.push([Number(r[0]), Number(r[1])]);
  } else if (Number.isInteger(ev.first_seq) && Number.isInteger(ev.last_seq)) {
    report.ranges.push([Number(ev.first_seq), Number(ev.last_seq)]);
  }
  for (const [seq, hash] of Object.entries((ev.dropped_hashes ?? {}) as Record<string, string>)) report.hashes.set(Number(seq), hash);
}

/** Sorted, merged ranges with the hash of each range's last seq (the next event's prev_hash). */
export function dropEvidence(drop: Pick<DropReport, 'ranges' | 'hashes' | 'payloads'>): { dropped_seqs: Array<[number, number]>; dropped_hashes: Record<string, string> } {
  const sorted = [...drop.ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [first, last] of sorted) {
    const top = merged[merged.length - 1];
    if (top !== undefined && first <= top[1] + 1) top[1] = Math.max(top[1], last);
    else merged.push([first, last]);
  }
  const hashes: Record<string, string> = {};
  for (const [, last] of merged) {
    const payload = drop.payloads.get(last);
    const hash = drop.hashes.get(last) ?? (payload === undefined ? undefined : (JSON.parse(payload) as { hash: string }).hash);
    if (hash !== undefined) hashes[String(last)] = hash;
  }
  return { dropped_seqs: merged, dropped_hashes: hashes };
}

/** The gap event that reports a drop: a chained, signed signal like any other. */
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
      ...dropEvidence(drop),
      ...(drop.replaces.length > 0 ? { replaces: drop.replaces } : {}),
    },
  };
}
