// Detector `rate`: largest allowed change per second, and/or at most N changes within a window
// (catches jumps of spoofed values and a pump or valve toggled by someone else).
import { z } from 'zod';
import type { Sample } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { formatNumber, roundValue } from './template.js';
import type { Detector, FindingSink, ResolvedRule, SampleBatch } from './types.js';

const params = {
  max_per_s: z.number().finite().positive().optional().describe('Largest allowed change per second (absolute units/s)'),
  max_changes: z.number().int().min(0).optional().describe('Most value changes allowed within window_ms'),
  window_ms: z.number().int().positive().optional().describe('Window of max_changes'),
  min_change: z.number().finite().min(0).default(0).describe('A step must be larger than this to count as a change for max_changes'),
  hold_ms: z.number().int().min(0).default(0).describe('Keep the condition active this long after the last violation'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{tag} moves faster than allowed: {detail}',
    clear_message: '{tag} = {observed} changes at a normal pace again',
    response: 'Check whether the jump or the toggling is real (local gauge, operator); if not commanded, look for a spoofed value or an unauthorized write.',
  },
};

class RateDetector implements Detector {
  readonly factKinds = [] as const;
  readonly cycle = false;
  readonly timed: boolean;
  readonly tags: readonly string[];
  private readonly maxPerS: number;
  private readonly k: number; // ring size: max_changes + 1 (0 = changes not checked)
  private readonly window: number;
  private readonly lastV: Float64Array;
  private readonly lastTs: Float64Array;
  private readonly lastViol: Float64Array;
  private readonly active: Uint8Array;
  private readonly ring: Float64Array;
  private readonly ringPos: Int32Array;
  private readonly ringCount: Int32Array;

  constructor(readonly rule: ResolvedRule<Params>) {
    const p = rule.params;
    const n = rule.tags.length;
    this.tags = rule.tags;
    this.maxPerS = p.max_per_s ?? Infinity;
    this.k = p.max_changes === undefined ? 0 : p.max_changes + 1;
    this.window = p.window_ms ?? 0;
    this.timed = p.hold_ms > 0 || this.k > 0;
    this.lastV = new Float64Array(n).fill(NaN);
    this.lastTs = new Float64Array(n).fill(NaN);
    this.lastViol = new Float64Array(n);
    this.active = new Uint8Array(n);
    this.ring = new Float64Array(n * this.k);
    this.ringPos = new Int32Array(n);
    this.ringCount = new Int32Array(n);
  }

  /** More than max_changes changes within (now - window, now]. */
  private changesViolated(slot: number, now: number): boolean {
    if (this.ringCount[slot] < this.k || this.k === 0) return false;
    return this.ring[slot * this.k + this.ringPos[slot]] > now - this.window;
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
    if (v !== v) return;
    const ts = s.ts;
    const lt = this.lastTs[slot];
    if (lt !== lt) {
      this.lastV[slot] = v;
      this.lastTs[slot] = ts;
      return;
    }
    if (ts <= lt) return; // duplicate or out of order: no rate to judge
    const prev = this.lastV[slot];
    const d = Math.abs(v - prev);
    const speed = (d * 1000) / (ts - lt);
    let violated = speed > this.maxPerS;
    if (this.k > 0 && d > this.rule.params.min_change) {
      this.ring[slot * this.k + this.ringPos[slot]] = ts;
      this.ringPos[slot] = (this.ringPos[slot] + 1) % this.k;
      if (this.ringCount[slot] < this.k) this.ringCount[slot]++;
      if (this.changesViolated(slot, ts)) violated = true;
    }
    this.lastV[slot] = v;
    this.lastTs[slot] = ts;
    if (violated) {
      this.lastViol[slot] = ts;
      if (this.active[slot] === 0) {
        this.active[slot] = 1;
        out.push(this.finding(true, ts, slot, v, prev, ts - lt, speed));
      }
    } else if (this.active[slot] === 1) {
      this.maybeClear(slot, ts, out);
    }
  }

  onTime(ts: number, out: FindingSink): void {
    for (let slot = 0; slot < this.active.length; slot++) if (this.active[slot] === 1) this.maybeClear(slot, ts, out);
  }

  private maybeClear(slot: number, ts: number, out: FindingSink): void {
    if (ts - this.lastViol[slot] < this.rule.params.hold_ms || this.changesViolated(slot, ts)) return;
    this.active[slot] = 0;
    out.push(this.finding(false, ts, slot, this.lastV[slot], NaN, NaN, NaN));
  }

  private changesInWindow(slot: number, now: number): number {
    let c = 0;
    for (let i = 0; i < this.ringCount[slot]; i++) if (this.ring[slot * this.k + i] > now - this.window) c++;
    return c;
  }

  private finding(active: boolean, ts: number, slot: number, v: number, prev: number, dt: number, speed: number) {
    const p = this.rule.params;
    const changes = this.k > 0 ? this.changesInWindow(slot, ts) : undefined;
    const parts: string[] = [];
    if (active && speed > this.maxPerS) parts.push(`${formatNumber(prev)} -> ${formatNumber(v)} in ${dt} ms = ${formatNumber(speed)}/s (max ${p.max_per_s}/s)`);
    if (active && changes !== undefined && changes > (p.max_changes ?? Infinity)) parts.push(`${changes} changes in ${p.window_ms! / 1000} s (max ${p.max_changes})`);
    return makeFinding(this.rule, texts, {
      active,
      ts,
      tag: this.tags[slot],
      observed: roundValue(v),
      expected: { max_per_s: p.max_per_s, max_changes: p.max_changes, window_ms: p.window_ms },
      evidence: active ? { previous: roundValue(prev), dt_ms: dt, rate_per_s: roundValue(speed), changes_in_window: changes } : { changes_in_window: changes },
      vars: { detail: parts.join('; '), previous: prev, rate: speed, changes, max_per_s: p.max_per_s, max_changes: p.max_changes },
    });
  }
}

export const rateType = defineDetector({
  type: 'rate',
  description: 'Largest change per second and/or most changes within a window.',
  params,
  defaults: { category: 'anomaly', severity: 'medium' },
  texts,
  vars: ['detail', 'previous', 'rate', 'changes', 'max_per_s', 'max_changes'],
  tagMode: 'tags',
  check(p) {
    const issues = [];
    if (p.max_per_s === undefined && p.max_changes === undefined) issues.push({ path: 'max_per_s', message: 'give max_per_s, max_changes with window_ms, or both' });
    if (p.max_changes !== undefined && p.window_ms === undefined) issues.push({ path: 'window_ms', message: 'max_changes needs window_ms' });
    if (p.max_changes === undefined && p.window_ms !== undefined) issues.push({ path: 'max_changes', message: 'window_ms is only used with max_changes' });
    return issues;
  },
  create: (rule) => new RateDetector(rule),
});
