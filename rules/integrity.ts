// Detector `integrity`: configuration and setpoint tags must equal their approved baseline; any change
// names tag, previous and new value. Approved maintenance windows suppress new alerts.
import { z } from 'zod';
import type { Sample } from '../protocols/types.js';
import { defineDetector, listNames } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { scalarSchema, timeWindowSchema, toEpochMs } from './schema.js';
import { roundValue } from './template.js';
import type { Detector, FindingSink, ResolvedRule, RuleIssue, SampleBatch } from './types.js';

const params = {
  baseline: z
    .record(z.string(), scalarSchema)
    .refine((o) => Object.keys(o).length > 0, 'list at least one tag with its approved value')
    .describe('Approved value per tag (tag: value); true/false match 1/0'),
  tolerance: z.number().finite().min(0).default(0).describe('Allowed absolute difference for numbers (float32 rounding is always allowed)'),
  maintenance: z.array(timeWindowSchema).default([]).describe('Approved windows in which changes raise nothing'),
  on_maintenance_end: z
    .enum(['raise', 'accept'])
    .default('raise')
    .describe('After a window: raise for values that still differ (raise), or take them as the new baseline until restart (accept)'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{tag} changed from {previous} to {observed}; approved value is {expected}',
    clear_message: '{tag} is back at its approved value {expected}',
    response: 'Confirm with the control engineer whether this change was authorized; if not, restore the approved value and find who wrote it (engineering station, remote access).',
  },
};

class IntegrityDetector implements Detector {
  readonly factKinds = [] as const;
  readonly cycle = false;
  readonly timed: boolean;
  readonly tags: readonly string[];
  /** approved value: number (bool as 1/0), float32 rounding of it, or a string */
  private readonly base: Float64Array;
  private readonly baseF: Float64Array;
  private readonly baseStr: (string | undefined)[];
  private readonly lastNum: Float64Array;
  private readonly lastStr: (string | undefined)[];
  private readonly active: Uint8Array;
  private readonly windows: Array<[number, number]>;
  private inMaint = false;
  private nextBoundary = -Infinity;

  constructor(readonly rule: ResolvedRule<Params>) {
    const n = rule.tags.length;
    this.tags = rule.tags;
    this.base = new Float64Array(n).fill(NaN);
    this.baseF = new Float64Array(n).fill(NaN);
    this.baseStr = new Array<string | undefined>(n).fill(undefined);
    this.lastNum = new Float64Array(n).fill(NaN);
    this.lastStr = new Array<string | undefined>(n).fill(undefined);
    this.active = new Uint8Array(n);
    rule.tags.forEach((t, i) => this.setBase(i, rule.params.baseline[t]));
    this.windows = rule.params.maintenance.map((w) => [toEpochMs(w.from), toEpochMs(w.to)] as [number, number]);
    this.timed = this.windows.length > 0;
  }

  private setBase(i: number, b: number | boolean | string): void {
    if (typeof b === 'string') {
      this.baseStr[i] = b;
      this.base[i] = NaN;
      this.baseF[i] = NaN;
    } else {
      const n = typeof b === 'boolean' ? (b ? 1 : 0) : b;
      this.baseStr[i] = undefined;
      this.base[i] = n;
      this.baseF[i] = Math.fround(n);
    }
  }

  private approved(i: number): number | string {
    return this.baseStr[i] ?? roundValue(this.base[i]) as number;
  }

  /** onSample for each of the cycle's samples of this detector's tags (this class's own loop: see SampleBatch) */
  onSamples(b: SampleBatch, out: FindingSink): void {
    const { samples, values, at, slots } = b;
    for (let j = 0; j < at.length; j++) {
      b.j = j;
      const k = at[j];
      this.onSample(samples[k], values[k], slots[j], out);
    }
  }

  onSample(s: Sample, v: number, slot: number, out: FindingSink): void {
    if (s.ts >= this.nextBoundary) this.updateWindow(s.ts, out);
    let ok: boolean;
    let str: string | undefined;
    if (v === v) {
      const b = this.base[slot];
      ok = v === b || v === this.baseF[slot] || Math.abs(v - b) <= this.rule.params.tolerance;
    } else if (typeof s.value === 'string' && s.quality === 'good') {
      str = s.value;
      ok = str === this.baseStr[slot];
    } else {
      return;
    }
    const prevNum = this.lastNum[slot];
    const prevStr = this.lastStr[slot];
    this.lastNum[slot] = v;
    this.lastStr[slot] = str;
    if (ok) {
      if (this.active[slot] === 1) {
        this.active[slot] = 0;
        out.push(this.finding(false, s.ts, slot, s.value, undefined));
      }
    } else if (this.active[slot] === 0 && !this.inMaint) {
      this.active[slot] = 1;
      const previous = prevStr ?? (prevNum === prevNum ? roundValue(prevNum) : this.approved(slot));
      out.push(this.finding(true, s.ts, slot, s.value, previous));
    }
  }

  onTime(ts: number, out: FindingSink): void {
    if (ts >= this.nextBoundary) this.updateWindow(ts, out);
  }

  /** Recompute whether ts is in a maintenance window and when that can change next. */
  private updateWindow(ts: number, out: FindingSink): void {
    const was = this.inMaint;
    let inside = false;
    let next = Infinity;
    for (const [from, to] of this.windows) {
      if (ts >= from && ts < to) inside = true;
      if (from > ts && from < next) next = from;
      if (to > ts && to < next) next = to;
    }
    this.inMaint = inside;
    this.nextBoundary = next;
    if (was && !inside) this.maintenanceEnded(ts, out);
  }

  private maintenanceEnded(ts: number, out: FindingSink): void {
    for (let i = 0; i < this.tags.length; i++) {
      const num = this.lastNum[i];
      const str = this.lastStr[i];
      if (num !== num && str === undefined) continue; // not seen
      if (this.rule.params.on_maintenance_end === 'accept') {
        this.setBase(i, str ?? num);
        if (this.active[i] === 1) {
          this.active[i] = 0;
          out.push(this.finding(false, ts, i, str ?? roundValue(num), undefined));
        }
        continue;
      }
      const b = this.base[i];
      const ok = str !== undefined ? str === this.baseStr[i] : num === b || num === this.baseF[i] || Math.abs(num - b) <= this.rule.params.tolerance;
      if (!ok && this.active[i] === 0) {
        this.active[i] = 1;
        out.push(this.finding(true, ts, i, str ?? num, this.approved(i), { after_maintenance: true }));
      }
    }
  }

  private finding(active: boolean, ts: number, slot: number, value: unknown, previous: unknown, extra?: Record<string, unknown>) {
    const approved = this.approved(slot);
    return makeFinding(this.rule, texts, {
      active,
      ts,
      tag: this.tags[slot],
      observed: roundValue(value),
      expected: approved,
      evidence: active ? { previous, approved, ...extra } : { approved },
      vars: { previous, approved },
    });
  }
}

export const integrityType = defineDetector({
  type: 'integrity',
  description: 'Configuration/setpoint tags must equal their approved baseline; maintenance windows suppress.',
  params,
  defaults: { category: 'integrity', severity: 'high' },
  texts,
  vars: ['previous', 'approved'],
  tagMode: 'params',
  resolveTags(p, device) {
    const known = new Set(device.tags.map((t) => t.name));
    const issues: RuleIssue[] = [];
    const tags = Object.keys(p.baseline);
    for (const t of tags) {
      if (!known.has(t)) issues.push({ path: `baseline.${t}`, message: `unknown tag '${t}' on device '${device.id}'; known tags: ${listNames([...known])}` });
    }
    return { tags, issues };
  },
  create: (rule) => new IntegrityDetector(rule),
});
