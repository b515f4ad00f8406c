// The outbox contract: a durable, ordered, hash-chained store of risk signals awaiting delivery.
import type { RiskSignal, Severity, SignalDraft } from '../../rules/signal.js';
import { OperationalError } from '../../protocols/errors.js';

/** One stored event as it will be published: payload is the exact JSON that was hashed. */
export interface OutboxEntry {
  seq: number;
  /** canonical JSON of the full RiskSignal (see canonical.ts), published byte for byte */
  payload: string;
}

/** Why the broker turned an event down for good (MQTT 5 PUBACK reason code and text). */
export interface Refusal {
  reason_code: number;
  reason: string;
  /** wall clock in ms when the refusal arrived */
  at_ms: number;
}

/** A refused event as listed for an operator. */
export interface RefusedEntry {
  seq: number;
  rule: string;
  device: string;
  severity: string;
  /** the event's own ts */
  ts: string;
  reason_code: number;
  reason: string;
  /** ISO time the broker refused it */
  refused_at: string;
}

export interface OutboxStats {
  /** events awaiting delivery (refused events not included) */
  depth: number;
  /** sum of payload bytes held, refused events included */
  bytes: number;
  /** seq of the newest event ever appended (0 if none) */
  last_seq: number;
  /** events dropped by retention since this outbox was opened */
  dropped: number;
  /** events the broker refused for good, kept until retried or dropped by retention */
  refused: number;
  oldest_refused_seq?: number;
}

export interface Outbox {
  /** Commit all drafts in one transaction; returns the full signals (seq, id, hash chain). */
  append(drafts: readonly SignalDraft[]): RiskSignal[];
  /** Up to `limit` unacked, unrefused events, oldest first, with seq > afterSeq (default 0). */
  pending(limit: number, afterSeq?: number): OutboxEntry[];
  /** Mark events delivered (broker PUBACK); unknown or already acked seqs are ignored. */
  ack(seqs: readonly number[]): void;
  /** Events published and awaiting PUBACK: retention never drops them until ack or release. */
  inflight(seqs: readonly number[]): void;
  /** No longer in flight (connection lost, transient refusal); all of them when omitted. */
  release(seqs?: readonly number[]): void;
  /**
   * Keep an event the broker refused for good: stored with the refusal, no longer pending.
   * Returns the event's rule, or undefined when the seq is not held (acked or dropped).
   */
  refuse(seq: number, refusal: Refusal): string | undefined;
  /** Refused events, oldest first, with seq > afterSeq. */
  refused(limit: number, afterSeq?: number): RefusedEntry[];
  /** Stored events (all, or only refused ones), oldest first, with seq > afterSeq. */
  entries(limit: number, afterSeq?: number, refusedOnly?: boolean): OutboxEntry[];
  /** Make refused events pending again (all of them when seqs is omitted); returns the seqs. */
  retry(seqs?: readonly number[]): number[];
  /** Apply age/count/byte limits now (append does it too); returns the gap event if any. */
  enforceRetention(): RiskSignal | undefined;
  depth(): number;
  stats(): OutboxStats;
  close(): void;
}

/** Drop counts per severity, as reported in a gap event. */
export type DropCounts = Record<Severity, number>;

export class OutboxError extends OperationalError {
  declare readonly code: 'outbox_corrupt' | 'outbox_locked' | 'outbox_unavailable' | 'outbox_foreign' | 'outbox_invalid_event' | 'outbox_key_mismatch' | 'outbox_missing';
  constructor(message: string, code: OutboxError['code'], options?: { cause?: unknown }) {
    super(code, message, 'outbox', options);
  }
}
