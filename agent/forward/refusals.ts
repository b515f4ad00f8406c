// Which PUBACK refusals are permanent (the event is kept in the outbox as refused and delivery
// goes on) and which are transient (back off, then retry the same event before any newer one),
// the built-in signal that reports refused events, and Refusals, which keeps and reports them.
//
// Permanent: sending the same bytes again gets the same answer until someone changes the
// broker or the event, so retrying would stall every event behind it forever.
//   0x80 unspecified error, 0x83 implementation specific (e.g. a plugin rejected the payload),
//   0x87 not authorized (ACL), 0x90 topic name invalid, 0x95 packet too large, 0x99 payload
//   format invalid, and any other failure code we do not know: a stall is worse than a kept,
//   reported and retryable event.
// Transient: the broker turned the event down for now, not for what it is.
//   0x97 quota exceeded, 0x89 server busy (not a PUBACK code in MQTT 5.0, some brokers send it),
//   0x91 packet identifier in use (a client/broker bookkeeping race).
import type { SignalDraft } from '../../rules/signal.js';
import type { Outbox } from '../outbox/types.js';

export const REFUSED_RULE = 'otsentry.delivery_refused';

const TRANSIENT = new Set([0x89, 0x91, 0x97]);

export function isTransientRefusal(reasonCode: number): boolean {
  return TRANSIENT.has(reasonCode);
}

export interface RefusedEvent {
  seq: number;
  reason_code: number;
  reason: string;
}

/** At most this many refused seqs are named one by one in a signal; the rest are counted. */
const LISTED = 100;

/** One signal for the events refused since the last one; never for a refused refusal signal. */
export function refusedDraft(agent: string, refused: readonly RefusedEvent[], nowMs: number): SignalDraft {
  const seqs = refused.map((r) => r.seq);
  const first = refused[0];
  const codes = [...new Set(refused.map((r) => `PUBACK ${r.reason_code} ${r.reason}`))].join(', ');
  const which = refused.length === 1 ? `event seq ${first.seq}` : `${refused.length} events (seq ${Math.min(...seqs)}-${Math.max(...seqs)})`;
  const retry = refused.length === 1 ? `otsentry outbox retry --config FILE --seq ${first.seq}` : 'otsentry outbox retry --config FILE --all';
  return {
    ts: new Date(nowMs).toISOString(),
    device: agent,
    rule: REFUSED_RULE,
    category: 'availability',
    severity: 'high',
    state: 'raised',
    score: 0,
    message: `The broker refused ${which} (${codes}); kept in the outbox as refused, delivery goes on. Fix the cause, then run \`${retry}\`.`,
    evidence: {
      refused_total: refused.length,
      refused: refused.slice(0, LISTED).map((r) => ({ seq: r.seq, reason_code: r.reason_code, reason: r.reason })),
    },
  };
}

/**
 * Parks refused events in the outbox and reports them: the refusals since the last report()
 * become one delivery_refused signal. A refused delivery_refused signal is kept and counted but
 * never reported by another one: that could loop for as long as the broker refuses.
 */
export class Refusals {
  /** events refused for good since start */
  count = 0;
  private unreported: RefusedEvent[] = [];

  constructor(
    private readonly outbox: Outbox,
    private readonly agent: string,
    private readonly now: () => number,
  ) {}

  /** Keep the event as refused; throws the outbox's error. */
  refuse(seq: number, reason_code: number, reason: string): void {
    const rule = this.outbox.refuse(seq, { reason_code, reason, at_ms: this.now() });
    this.count++;
    if (rule !== undefined && rule !== REFUSED_RULE) this.unreported.push({ seq, reason_code, reason });
  }

  /** Append the delivery_refused signal for what was refused since the last call, if anything. */
  report(): void {
    if (this.unreported.length === 0) return;
    const refused = this.unreported;
    this.unreported = [];
    this.outbox.append([refusedDraft(this.agent, refused, this.now())]);
  }
}
