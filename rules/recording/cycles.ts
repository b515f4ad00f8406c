// Turns a recording back into the poll cycles the agent judged, the same way for replay and
// learning: a link fact or a `cycle` line (a CSV row) ends a device's cycle. In a format 1 (or
// header-less) recording, a device that has neither yet ends a cycle when one of its tags or fact
// kinds comes again (a poll reads each once); format 2 recordings end every cycle explicitly, so
// a tag read twice in one cycle (OPC UA subscriptions) stays in it.
import type { Fact, Sample } from '../../protocols/types.js';
import type { Cycle } from '../judge/cycle.js';
import type { RecordEvent } from './recording.js';

/** A cycle read from a recording; label from a CSV label column (1 attack, 0 normal, NaN unknown). */
export interface RecordedCycle extends Cycle {
  samples: Sample[];
  facts: Fact[];
  label?: number;
}

interface Open {
  cycle: RecordedCycle;
  /** tags and fact kinds seen (devices whose cycles end implicitly) */
  seen: Set<string> | undefined;
}

export class CycleFeeder {
  /** every device's cycles end with a link fact or a cycle line (format 2) */
  private allExplicit = false;
  /** devices whose cycles were seen to end with link facts or cycle lines */
  private readonly explicit = new Set<string>();
  private readonly open = new Map<string, Open>();

  constructor(private readonly onCycle: (c: RecordedCycle) => void) {}

  push(ev: RecordEvent): void {
    switch (ev.kind) {
      case 'header':
        this.allExplicit = ev.v >= 2;
        return;
      case 'sample': {
        const o = this.openFor(ev.sample.device, `s\u0000${ev.sample.tag}`);
        o.cycle.samples.push(ev.sample);
        return;
      }
      case 'fact': {
        const f = ev.fact;
        if (f.kind !== 'link') {
          this.openFor(f.device, `f\u0000${f.kind}`).cycle.facts.push(f);
          return;
        }
        const o = this.openFor(f.device, undefined);
        o.cycle.facts.push(f);
        if (ev.skipped_cycles !== undefined) o.cycle.skipped_cycles = ev.skipped_cycles;
        this.end(f.device, o);
        return;
      }
      case 'cycle': {
        const o = this.openFor(ev.device, undefined);
        const c = o.cycle;
        c.ts = ev.ts;
        if (ev.label !== undefined) c.label = ev.label;
        if (ev.skipped_cycles !== undefined) c.skipped_cycles = ev.skipped_cycles;
        if (ev.loop_restart !== undefined) c.loop_restart = ev.loop_restart;
        this.end(ev.device, o);
      }
    }
  }

  /** End the cycles still open (a recording cut short, the last cycle of implicit devices). */
  finish(): void {
    const left = [...this.open.values()];
    this.open.clear();
    for (const o of left) this.onCycle(o.cycle);
  }

  /** The device's open cycle; with a key (tag or fact kind), one that does not hold it yet. */
  private openFor(device: string, key: string | undefined): Open {
    let o = this.open.get(device);
    const implicit = !this.allExplicit && !this.explicit.has(device);
    if (o !== undefined && key !== undefined && implicit) {
      if (o.seen!.has(key)) {
        this.open.delete(device);
        this.onCycle(o.cycle);
        o = undefined;
      }
    }
    if (o === undefined) {
      o = { cycle: { device, samples: [], facts: [], skipped_cycles: 0 }, seen: implicit ? new Set() : undefined };
      this.open.set(device, o);
    }
    if (key !== undefined && o.seen !== undefined) o.seen.add(key);
    return o;
  }

  private end(device: string, o: Open): void {
    this.explicit.add(device);
    this.open.delete(device);
    this.onCycle(o.cycle);
  }
}
