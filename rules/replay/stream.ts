// Turns recording events into poll cycles the same way for replay and learning: a link fact or a
// `cycle` line (a CSV row) ends a device's cycle; for a device that has neither, a cycle ends
// when one of its tags comes again (a poll reads each tag once).
import type { Fact, Sample } from '../../protocols/types.js';
import type { RecordEvent } from '../recording/recording.js';

export interface CycleConsumer {
  sample(s: Sample): void;
  /** every fact; a link fact also ends the device's cycle (the consumer knows) */
  fact(f: Fact): void;
  /** end of a cycle that had no link fact; label from a CSV label column */
  endCycle(device: string, ts: number, label?: number): void;
}

export class CycleFeeder {
  /** devices whose cycles are ended by link facts or cycle lines */
  private readonly explicit = new Set<string>();
  /** device -> tags and latest time of its open cycle (devices without explicit ends) */
  private readonly pending = new Map<string, { tags: Set<string>; ts: number }>();

  constructor(private readonly consumer: CycleConsumer) {}

  push(ev: RecordEvent): void {
    if (ev.kind === 'sample') {
      const s = ev.sample;
      if (!this.explicit.has(s.device)) {
        let open = this.pending.get(s.device);
        if (open !== undefined && open.tags.has(s.tag)) {
          this.consumer.endCycle(s.device, open.ts);
          open = undefined;
        }
        if (open === undefined) this.pending.set(s.device, (open = { tags: new Set(), ts: s.ts }));
        open.tags.add(s.tag);
        if (s.ts > open.ts) open.ts = s.ts;
      }
      this.consumer.sample(s);
    } else if (ev.kind === 'fact') {
      if (ev.fact.kind === 'link') this.closeExplicit(ev.fact.device);
      this.consumer.fact(ev.fact);
    } else {
      this.closeExplicit(ev.device);
      this.consumer.endCycle(ev.device, ev.ts, ev.label);
    }
  }

  /** Push a live poll cycle in the judge's order: samples, other facts, then the link fact. */
  pushCycle(samples: readonly Sample[], facts: readonly Fact[]): void {
    for (const s of samples) this.push({ kind: 'sample', sample: s, line: 0 });
    for (const f of facts) if (f.kind !== 'link') this.push({ kind: 'fact', fact: f, line: 0 });
    for (const f of facts) if (f.kind === 'link') this.push({ kind: 'fact', fact: f, line: 0 });
  }

  /** End the cycles still open (the last timestamp group of implicit devices). */
  finish(): void {
    for (const [device, open] of this.pending) this.consumer.endCycle(device, open.ts);
    this.pending.clear();
  }

  private closeExplicit(device: string): void {
    this.explicit.add(device);
    this.pending.delete(device);
  }
}
