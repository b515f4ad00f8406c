// Whether learning has seen enough of each tag. A tag's envelope (the range its rules are learned
// from) has converged when the last part of the window set no new extreme worth the name and the
// window held several periods of the tag's main variation. Otherwise the verdict says why (still
// widening, a cycle slower than the window, one step to a new level, discrete values still new)
// and how long to learn at least; rules that use such a tag go into `review` (they signal at info
// until approved), and `learn --until-stable` stops once every tag converged.
import { parseExpr, tagRefs } from '../expr/parse.js';
import type { EnvelopeTracker } from './envelope.js';
import { sig } from './models.js';
import type { TagKind } from './stats.js';

export interface ConvergenceOptions {
  /** last part of the window (share) in which a new extreme means the envelope is still widening */
  tail_share: number;
  /** a new extreme counts when it goes this share of the whole span beyond the earlier one */
  widen_share: number;
  /** periods of its main variation a tag's window must hold */
  min_periods: number;
  /** one change of level taking less than this share of the window is a step, not a slow cycle */
  step_share: number;
  /**
   * samples a tag that varies like noise needs: the extremes of n such samples are passed by about
   * 2 in n + 1 new ones, so fewer leave its range to chance
   */
  noise_samples: number;
}

export const DEFAULT_CONVERGENCE: Readonly<ConvergenceOptions> = Object.freeze({ tail_share: 0.2, widen_share: 0.1, min_periods: 3, step_share: 0.1, noise_samples: 1000 });

/** Below this share of the span, slow variation (of bucket means) is noise about a steady level. */
const SLOW_SHARE = 0.2;
/** Below this lag-1 autocorrelation, consecutive bucket means vary like noise. */
const NOISE_CORRELATION = 0.3;

export type Verdict = 'converged' | 'widening' | 'slow_cycle' | 'step' | 'noise' | 'new_values' | 'too_few' | 'not_judged';

export interface EnvelopeVerdict {
  verdict: Verdict;
  /** false: the tag's rules go into review and --until-stable goes on */
  converged: boolean;
  /** time between the tag's first and last good sample */
  window_ms: number;
  /** periods of the tag's main variation seen (continuous tags) */
  periods?: number;
  /** learn at least this long (when not converged and it can be told) */
  learn_ms?: number;
  /** why, as it follows "device/tag: " on the console and in the baseline */
  text: string;
}

export interface TagVerdict extends EnvelopeVerdict {
  device: string;
  tag: string;
  kind: TagKind;
}

const STEPS_MS = [1, 2, 5, 10, 15, 20, 30].map((s) => s * 1000).concat([1, 2, 5, 10, 15, 20, 30].map((m) => m * 60_000), [1, 2, 3, 4, 6, 8, 12].map((h) => h * 3_600_000), [1, 2, 3, 7, 14, 30].map((d) => d * 86_400_000));

/** A duration rounded up to a round figure (5 min, 2 h, 7 d): what to tell a person. */
export function roundUpDuration(ms: number): number {
  return STEPS_MS.find((s) => s >= ms) ?? Math.ceil(ms / 86_400_000) * 86_400_000;
}

/** A duration as people say it, to two figures: 40 s, 2 min (for 119.8 s), 1.5 h, 7 d. */
export function spoken(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const units: Array<[number, string]> = [[1000, 's'], [60_000, 'min'], [3_600_000, 'h'], [86_400_000, 'd']];
  for (let i = 0; i < units.length; i++) {
    const v = sig(ms / units[i][0], 2);
    const limit = i === 0 ? 100 : i === 1 ? 60 : i === 2 ? 48 : Infinity;
    if (v < limit) return `${v} ${units[i][1]}`;
  }
  return `${sig(ms / 86_400_000, 2)} d`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function periodsText(p: number): string {
  if (p < 0.5) return 'less than half a period';
  if (p === 0.5) return 'half a period';
  return `${p} period${p === 1 ? '' : 's'}`;
}

/**
 * The verdict on one tag's envelope. tol: its measurement tolerance (learn's noise x magnitude);
 * minSamples: fewer good samples are too few to judge (learn's min_cycles).
 */
export function judgeEnvelope(t: EnvelopeTracker, kind: TagKind, tol: number, minSamples: number, o: ConvergenceOptions = DEFAULT_CONVERGENCE): EnvelopeVerdict {
  const w = t.used > 0 ? t.last - t.first : 0;
  const W = spoken(w);
  if (kind === 'counter' || kind === 'text') return { verdict: 'not_judged', converged: true, window_ms: w, text: `not judged (a ${kind} tag: no range is learned for it)` };
  if (t.count < minSamples || kind === 'sparse') return { verdict: 'too_few', converged: false, window_ms: w, text: `only ${t.count} good sample${t.count === 1 ? '' : 's'} (fewer than ${minSamples}): no rule yet; learn longer` };
  if (kind === 'constant') return { verdict: 'converged', converged: true, window_ms: w, text: `converged: constant over ${W}` };
  if (!(w > 0)) return { verdict: 'too_few', converged: false, window_ms: 0, text: 'every sample has the same time: learn longer' };
  const tailStart = t.last - o.tail_share * w;
  const T = spoken(o.tail_share * w);
  if (kind === 'discrete') {
    const fresh = [...t.firstSeen].filter(([, at]) => at > t.first && at >= tailStart).map(([v]) => v);
    if (fresh.length === 0) return { verdict: 'converged', converged: true, window_ms: w, text: `converged over ${W} (every value seen before the last ${T})` };
    const learn = roundUpDuration(2 * w);
    return {
      verdict: 'new_values',
      converged: false,
      window_ms: w,
      learn_ms: learn,
      text: `new values still appearing at the end of ${W} (${fresh.sort((a, b) => a - b).join(', ')} first seen in the last ${T}); learn for at least ${spoken(learn)}, or approve its values by hand`,
    };
  }
  return judgeContinuous(t, tol, o, w, tailStart);
}

function judgeContinuous(t: EnvelopeTracker, tol: number, o: ConvergenceOptions, w: number, tailStart: number): EnvelopeVerdict {
  const W = spoken(w);
  const T = spoken(o.tail_share * w);
  const nb = t.used;
  // The tail: buckets that start in its last part (at least the last bucket).
  let tail = nb - 1;
  while (tail > 1 && t.t0[tail - 1] >= tailStart) tail--;
  let loH = Infinity, hiH = -Infinity, loT = Infinity, hiT = -Infinity, iLoT = tail, iHiT = tail;
  for (let i = 0; i < nb; i++) {
    if (i < tail) {
      if (t.min[i] < loH) loH = t.min[i];
      if (t.max[i] > hiH) hiH = t.max[i];
    } else {
      if (t.min[i] <= loT) (loT = t.min[i]), (iLoT = i);
      if (t.max[i] >= hiT) (hiT = t.max[i]), (iHiT = i);
    }
  }
  const lo = Math.min(loH, loT);
  const span = Math.max(hiH, hiT) - lo;
  if (span <= 2 * tol) return { verdict: 'converged', converged: true, window_ms: w, text: `converged over ${W} (stays within its tolerance)` };

  const thr = Math.max(2 * tol, o.widen_share * span);
  const up = hiT - hiH > thr;
  const down = loH - loT > thr;
  if (up || down) {
    // The swing that set the new extreme has lasted at least half a period: from the opposite
    // extreme before it. Both sides widening (a growing oscillation): the whole window.
    let half = w;
    if (up !== down) {
      const end = up ? iHiT : iLoT;
      let k = 0;
      for (let i = 1; i <= end; i++) if (up ? t.min[i] < t.min[k] : t.max[i] > t.max[k]) k = i;
      half = Math.max((up ? t.tMax[end] - t.tMin[k] : t.tMin[end] - t.tMax[k]), o.tail_share * w);
    }
    const learn = roundUpDuration(Math.max(2 * w, o.min_periods * 2 * half));
    const what = [...(up ? [`max ${sig(hiH, 4)} -> ${sig(hiT, 4)}`] : []), ...(down ? [`min ${sig(loH, 4)} -> ${sig(loT, 4)}`] : [])].join(', ');
    return {
      verdict: 'widening',
      converged: false,
      window_ms: w,
      learn_ms: learn,
      text: `still widening at the end of ${W} (new ${up && down ? 'highs and lows' : up ? 'highs' : 'lows'} in the last ${T}: ${what}); learn for at least ${spoken(learn)}, or approve its range by hand`,
    };
  }

  // The main variation: swings of the bucket means between the lowest and the highest 30% of their
  // 5-95% range. Means that hardly move (variation faster than a bucket) or that follow each other
  // no more than noise does: an envelope of many small changes, known once there are enough.
  const means = Float64Array.from({ length: nb }, (_, i) => t.sum[i] / t.n[i]);
  const sorted = Float64Array.from(means).sort();
  const q05 = sorted[Math.round(0.05 * (nb - 1))];
  const q95 = sorted[Math.round(0.95 * (nb - 1))];
  const r = q95 - q05;
  if (r <= 2 * tol) return { verdict: 'converged', converged: true, window_ms: w, text: `converged over ${W} (stays within its tolerance but for brief excursions)` };
  if (r < SLOW_SHARE * span) return noiseLike(t.count, 'varies quickly about a steady level', o, W, T, w);
  if (lag1(means) < NOISE_CORRELATION) return noiseLike(t.count, 'varies like noise about a steady level', o, W, T, w);
  const lowCut = q05 + 0.3 * r;
  const highCut = q95 - 0.3 * r;
  let state = 0, first = 0, changes = 0, lastIn = NaN, transition = 0, at = NaN, firstAt = NaN;
  const level = [0, 0, 0, 0]; // sum and count of the means in the low and the high state
  for (let i = 0; i < nb; i++) {
    const s = means[i] <= lowCut ? -1 : means[i] >= highCut ? 1 : 0;
    if (s === 0) continue;
    level[s < 0 ? 0 : 2] += means[i];
    level[s < 0 ? 1 : 3]++;
    if (state !== 0 && s !== state) {
      changes++;
      transition = t.t0[i] - lastIn;
      at = t.t0[i];
      if (changes === 1) firstAt = at;
    }
    if (first === 0) first = s;
    state = s;
    lastIn = t.t1[i];
  }
  // Each change is half a period; the partial swings before the first and after the last change
  // add up to at most one more. Their spacing tells where in between (with enough of them).
  const spaced = changes >= 2 ? w / ((2 * (at - firstAt)) / (changes - 1)) : 0;
  // In halves, rounded down (with a little slack for the bucket grid): "3 periods" means seen.
  const periods = Math.floor(2 * Math.min((changes + 2) / 2, Math.max(changes / 2, spaced)) + 0.1) / 2;
  if (periods >= o.min_periods) return { verdict: 'converged', converged: true, window_ms: w, periods, text: `converged over ${W} (${Math.floor(periods)} periods of its main variation; no new extreme in the last ${T})` };
  if (changes === 1 && transition <= o.step_share * w) {
    const learn = roundUpDuration(o.min_periods * 2 * w);
    const [a, b] = [sig(level[0] / level[1], 3), sig(level[2] / level[3], 3)];
    const [from, to] = first < 0 ? [a, b] : [b, a];
    return {
      verdict: 'step',
      converged: false,
      window_ms: w,
      periods,
      learn_ms: learn,
      text: `moved once to a new level (about ${from} -> ${to} at ${iso(at)}) and stayed there over ${W}; learn across more changes of operation (at least ${spoken(learn)}), or approve its range by hand`,
    };
  }
  const learn = roundUpDuration((o.min_periods * w) / Math.max(periods, 0.5));
  return {
    verdict: 'slow_cycle',
    converged: false,
    window_ms: w,
    periods,
    learn_ms: learn,
    text: `${periods < 1 ? `a cycle slower than the window: ${periodsText(periods)}` : `only ${periodsText(periods)}`} of its main variation in ${W}; learn for at least ${spoken(learn)} (${o.min_periods} periods), or approve its range by hand`,
  };
}

/** A tag whose envelope is that of many small, fast changes: converged once it had enough samples. */
function noiseLike(n: number, how: string, o: ConvergenceOptions, W: string, T: string, w: number): EnvelopeVerdict {
  if (n >= o.noise_samples) return { verdict: 'converged', converged: true, window_ms: w, text: `converged over ${W} (${how}; ${n} samples, no new extreme in the last ${T})` };
  const learn = roundUpDuration((w * o.noise_samples) / n);
  return {
    verdict: 'noise',
    converged: false,
    window_ms: w,
    learn_ms: learn,
    text: `${how}, and ${n} samples are too few to know its extremes (about 1 in ${Math.round((n + 1) / 2)} new ones falls outside them); learn for at least ${spoken(learn)} (${o.noise_samples} samples), or approve its range by hand`,
  };
}

function lag1(x: Float64Array): number {
  let mean = 0;
  for (const v of x) mean += v / x.length;
  let num = 0, den = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - mean;
    den += d * d;
    if (i > 0) num += d * (x[i - 1] - mean);
  }
  return den > 0 ? num / den : 0;
}

/** `device/tag: why`, as the console and the baseline print a verdict. */
export function verdictLine(v: TagVerdict): string {
  return `${v.device}/${v.tag}: ${v.text}`;
}

/** Judged tags and how many of them converged (not-judged ones count for neither). */
export function convergedCount(verdicts: readonly TagVerdict[]): { judged: number; converged: number } {
  const judged = verdicts.filter((v) => v.verdict !== 'not_judged');
  return { judged: judged.length, converged: judged.filter((v) => v.converged).length };
}

/** Comment lines for the baseline's header: every judged tag's verdict, unconverged ones first. */
export function convergenceComment(verdicts: readonly TagVerdict[]): string[] {
  const judged = verdicts.filter((v) => v.verdict !== 'not_judged');
  if (judged.length === 0) return [];
  const { converged } = convergedCount(judged);
  const order = [...judged.filter((v) => !v.converged), ...judged.filter((v) => v.converged)];
  return [
    `# Convergence of each tag's envelope: ${converged} of ${judged.length} converged${converged < judged.length ? '; rules that use the others carry `review` (they signal at info until `otsentry approve`)' : ''}.`,
    ...order.map((v) => `#   ${verdictLine(v).replace(/\n/g, ' ')}`),
  ];
}

/** Tags a learned rule reads: its tag(s), a residual model's target and inputs, an expression's names. */
export function ruleTags(rule: Record<string, unknown>): string[] {
  const out = new Set<string>();
  if (typeof rule.tag === 'string') out.add(rule.tag);
  if (Array.isArray(rule.tags)) for (const x of rule.tags) if (typeof x === 'string') out.add(x);
  if (typeof rule.target === 'string') out.add(rule.target);
  if (Array.isArray(rule.terms)) {
    for (const x of rule.terms as Array<{ tag?: unknown; times?: unknown }>) {
      if (typeof x?.tag === 'string') out.add(x.tag);
      if (typeof x?.times === 'string') out.add(x.times);
    }
  }
  if (typeof rule.expr === 'string') {
    try {
      for (const ref of tagRefs(parseExpr(rule.expr))) out.add(ref.name);
    } catch {
      // learn writes only expressions it parsed; one it cannot read here reads no tag
    }
  }
  return [...out];
}

/**
 * Puts the rules that read an unconverged tag into review (the `review` field says why, and an
 * evidence line says how to approve). Returns the ids of those rules.
 */
export function markReview(rules: ReadonlyArray<{ rule: Record<string, unknown>; evidence: string[] }>, verdicts: readonly TagVerdict[]): string[] {
  const open = new Map(verdicts.filter((v) => !v.converged).map((v) => [`${v.device}\u0000${v.tag}`, v]));
  const ids: string[] = [];
  if (open.size === 0) return ids;
  for (const lr of rules) {
    const device = String(lr.rule.device);
    const why = ruleTags(lr.rule).flatMap((tag) => {
      const v = open.get(`${device}\u0000${tag}`);
      return v ? [`${tag}: ${v.text}`] : [];
    });
    if (why.length === 0) continue;
    lr.rule.review = why.join('; ');
    lr.evidence.push(`in review (a tag it reads had not converged): signals at info until approved with \`otsentry approve --config FILE ${String(lr.rule.id)}\``);
    ids.push(String(lr.rule.id));
  }
  return ids;
}

export type StableState = 'learning' | 'stable' | 'max';

/**
 * `learn --until-stable MAX`: told the time of each cycle (the data's clock: live polls or a
 * recording), it judges every tag now and then (every second of data, less often as the window
 * grows: at most 200 judgements per doubling) and says when every tag converged or MAX passed.
 */
export class StableWatch {
  /** once stable or max, it stays so */
  state: StableState = 'learning';
  origin = NaN;
  /** time of the cycle at which the watch ended (stable or max) */
  at = NaN;
  private next = -Infinity;

  constructor(
    readonly maxMs: number,
    private readonly judge: () => readonly TagVerdict[],
    /** more conditions before stable counts (e.g. every device polled once) */
    private readonly ready: () => boolean = () => true,
  ) {}

  observe(ts: number): StableState {
    if (this.state !== 'learning') return this.state;
    if (this.origin !== this.origin) this.origin = ts;
    const elapsed = ts - this.origin;
    if (ts >= this.next) {
      this.next = ts + Math.max(1000, elapsed / 200);
      const v = this.judge();
      if (v.length > 0 && v.every((x) => x.converged) && this.ready()) return this.end(ts, 'stable');
    }
    if (elapsed >= this.maxMs) return this.end(ts, 'max');
    return 'learning';
  }

  get afterMs(): number {
    return this.at - this.origin;
  }

  private end(ts: number, s: StableState): StableState {
    this.at = ts;
    return (this.state = s);
  }
}
