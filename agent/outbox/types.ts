// The outbox contract: a durable, ordered, hash-chained store of risk signals awaiting delivery.
import type { RiskSignal, Severity, SignalDraft } from '../signal.js';

/** One stored event as it will be published: payload is the exact JSON that was hashed. */
export interface OutboxEntry {
  seq: number;
  /** canonical JSON of the full RiskSignal (see canonical.ts), published byte for byte */
  payload: string;
}

export interface OutboxStats {
  /** unacked events held */
  depth: number;
  /** sum of payload bytes held */
  bytes: number;
  /** seq of the newest event ever appended (0 if none) */
  last_seq: number;
  /** events dropped by retention since this outbox was opened */
  dropped: number;
}

export interface Outbox {
  /** Commit all drafts in one transaction; returns the full signals (seq, id, hash chain). */
  append(drafts: readonly SignalDraft[]): RiskSignal[];
  /** Up to `limit` unacked events, oldest first, with seq > afterSeq (default 0). */
  pending(limit: number, afterSeq?: number): OutboxEntry[];
  /** Mark events delivered (broker PUBACK); unknown or already acked seqs are ignored. */
  ack(seqs: readonly number[]): void;
  /** Apply age/count/byte limits now (append does it too); returns the gap event if any. */
  enforceRetention(): RiskSignal | undefined;
  depth(): number;
  stats(): OutboxStats;
  close(): void;
}

/** Drop counts per severity, as reported in a gap event. */
export type DropCounts = Record<Severity, number>;

export class OutboxError extends Error {
  constructor(
    message: string,
    readonly code: 'outbox_corrupt' | 'outbox_locked' | 'outbox_unavailable' | 'outbox_foreign' | 'outbox_invalid_event' | 'outbox_key_mismatch',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutboxError';
  }
}
