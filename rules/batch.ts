// How the engine judges a poll cycle's samples in one batch (RuleEngine.onSamples): the device's
// order of samples, each detector's positions and slots in it (the plan), and the findings put
// back in the order sample-by-sample judging gives.
import type { Sample } from '../protocols/types.js';
import type { Detector, Finding } from './types.js';

/** A tag of a device as the engine routes it: its detectors and their slots, in attach order. */
export interface Routed {
  readonly name: string;
  /** position in the device's values */
  readonly index: number;
  readonly dets: readonly Detector[];
  readonly slots: readonly number[];
}

/** One detector's part of a batch: positions of its samples and their slots. */
export interface PlanStep {
  readonly det: Detector;
  readonly at: Int32Array;
  readonly slots: Int32Array;
}

export interface BatchPlan {
  readonly steps: readonly PlanStep[];
  /** false when a detector has no onSamples: the cycle goes sample by sample */
  readonly batchable: boolean;
  /** samples of known tags and detector evaluations per batch */
  readonly known: number;
  readonly evaluations: number;
}

/** Where a finding of a batch came from. */
export interface Origin {
  pos: number;
  det: Detector;
}

/**
 * Compare a cycle's samples with the device's last order (by position; null: a tag it does not
 * have): 'same', 'new' (first batch, a changed poll plan) or 'foreign' (a sample of another device).
 */
export function compareOrder(order: readonly (Routed | null)[], tags: ReadonlyMap<string, Routed>, device: string, samples: readonly Sample[]): 'same' | 'new' | 'foreign' {
  let same = order.length === samples.length;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    if (s.device !== device) return 'foreign';
    if (same) {
      const t = order[i];
      if (t === null ? tags.has(s.tag) : t.name !== s.tag) same = false;
    }
  }
  return same ? 'same' : 'new';
}

/** Each detector's positions and slots in a device's order of samples. */
export function planBatch(order: readonly (Routed | null)[]): BatchPlan {
  const parts = new Map<Detector, { at: number[]; slots: number[] }>();
  let known = 0;
  let evaluations = 0;
  order.forEach((t, pos) => {
    if (t === null) return;
    known++;
    evaluations += t.dets.length;
    t.dets.forEach((det, i) => {
      let p = parts.get(det);
      if (p === undefined) parts.set(det, (p = { at: [], slots: [] }));
      p.at.push(pos);
      p.slots.push(t.slots[i]);
    });
  });
  const steps = [...parts].map(([det, p]) => ({ det, at: Int32Array.from(p.at), slots: Int32Array.from(p.slots) }));
  return { steps, batchable: steps.every((s) => s.det.onSamples !== undefined), known, evaluations };
}

/**
 * A batch's findings (several: rare) in the order onSample gives: by sample, then by the
 * detector's place in its tag's list. Sorted in place; `from` is parallel to `found`.
 */
export function sortInSampleOrder(found: Finding[], from: readonly Origin[], order: readonly (Routed | null)[]): void {
  const rank = (k: number) => from[k].pos * 65536 + order[from[k].pos]!.dets.indexOf(from[k].det);
  const idx = found.map((_, k) => k).sort((a, b) => rank(a) - rank(b) || a - b);
  const copy = found.slice();
  idx.forEach((k, i) => (found[i] = copy[k]));
}
