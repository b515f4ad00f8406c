// Brokers that answer a publish they refuse by closing the connection (some do for an ACL denial
// or an oversized packet) without flushing the PUBACKs of the events before it: resending would
// stall on that event forever. After a loss with events in flight the next connection sends one
// event at a time (probing) until a PUBACK arrives; when `limit` single-event connections in a
// row are lost with the same event, that event is the one the broker refuses.
export class DropWatch {
  /** send one event at a time until a PUBACK */
  probing = false;
  private suspect?: { seq: number; closes: number };

  constructor(private readonly limit = 3) {}

  /** A PUBACK arrived: the connection works. */
  acked(): void {
    this.probing = false;
    this.suspect = undefined;
  }

  /**
   * The connection was lost with `inflight` awaiting PUBACK (oldest first). Returns the event
   * to keep as refused and how many losses in a row it caused, or undefined.
   */
  lost(inflight: ReadonlySet<number>): { seq: number; closes: number } | undefined {
    if (!this.probing) {
      this.probing = inflight.size > 0;
      return undefined;
    }
    const seq = inflight.values().next().value;
    const closes = seq !== undefined && this.suspect?.seq === seq ? this.suspect.closes + 1 : 1;
    this.suspect = seq === undefined || closes >= this.limit ? undefined : { seq, closes };
    return seq !== undefined && closes >= this.limit ? { seq, closes } : undefined;
  }
}
