// Scoring the MSU replay per attack burst. A burst is the attack frames of one category with less
// than BURST_GAP_MS between them. Every raise is credited to at most one burst: the burst of the
// latest attack frame before it that touched what the raising rule watches (a tag the frame
// changed in the register image, or, for rules on the device's facts, any attack frame), if the
// raise came at most GRACE_MS after that burst's last frame. So an alarm one category causes never
// counts for another burst running at the same time. A burst is detected by its first credited raise.
import { MSU_TAGS, type Frame } from './msu_plc.js';

export const BURST_GAP_MS = 30_000;
export const GRACE_MS = BURST_GAP_MS;
export const CATEGORY_NAMES = ['Normal', 'NMRI', 'CMRI', 'MSCI', 'MPCI', 'MFCI', 'DoS', 'Recon'];
const UNIT = 4;
const PRESSURE = MSU_TAGS.length - 1;
/** Longest look back from a raise to its cause (bursts last minutes). */
const LOOKBACK_MS = 3_600_000;

export interface Burst {
  category: number;
  start: number;
  end: number;
  frames: number;
  detected_at?: number;
  /** rule whose raise detected it */
  detected_by?: string;
}

export interface Raise {
  ts: number;
  rule: string;
}

export interface CategoryScore {
  category: number;
  name: string;
  bursts: number;
  detected: number;
  /** median and largest time to detect of the detected bursts (ms) */
  ttd_median_ms: number;
  ttd_max_ms: number;
  /** attack frames sent while a condition was active */
  frames: number;
  frames_flagged: number;
  /** detecting rules and how many bursts each detected first */
  detectors: Map<string, number>;
  /** bursts the polled data can tell from normal traffic (see distinguishable) */
  showable: number;
  /** of those, detected */
  showable_detected: number;
}

export interface BurstScore {
  bursts: Burst[];
  categories: CategoryScore[];
  /** raises outside every burst window (start .. last frame + grace) */
  false_alarms: Raise[];
  /** per false alarm (same order): the frame that set what it raised on, and how often frames of each label set that */
  false_causes: Array<FalseCause | undefined>;
  /** raises inside a burst window that no attack frame explains (neither credited nor false) */
  unexplained: number;
  /** raises credited to a burst that another raise had detected already */
  repeats: number;
  /** capture time outside every burst window after the learning window, in hours */
  normal_hours: number;
}

/**
 * The bursts still running at or starting after `from`. A burst that began before `from` keeps its
 * true start: its earlier frames (in the learning window) are its own, and so is what they caused
 * after `from` (a value injected before the split is still in the register image after it).
 */
export function findBursts(frames: readonly Frame[], from: number): Burst[] {
  const open = new Map<number, Burst>();
  const out: Burst[] = [];
  for (const f of frames) {
    if (f.category === 0) continue;
    const b = open.get(f.category);
    if (b && f.ts - b.end <= BURST_GAP_MS) {
      b.end = f.ts;
      b.frames++;
      continue;
    }
    if (b) out.push(b);
    open.set(f.category, { category: f.category, start: f.ts, end: f.ts, frames: 1 });
  }
  out.push(...open.values());
  return out.filter((b) => b.end >= from).sort((a, b) => a.start - b.start);
}

/** An attack frame, its burst, and the register-image tags it changed (a bit per MSU_TAGS index). */
interface Cause {
  ts: number;
  burst: number;
  changed: number;
}

/** The value a frame writes to the register image's tag i (FC16 writes to the unit, FC3 answers for the pressure); NaN for none. */
function writes(f: Frame, i: number): number {
  if (i === PRESSURE) return !f.query && f.fc === 3 && f.pressure !== undefined ? f.pressure : NaN;
  return f.query && f.address === UNIT && f.fc === 16 && f.params ? f.params[i] : NaN;
}

/** A frame applied to the register image; the tags it changed, as a bit mask. */
function applyFrame(f: Frame, image: Float64Array): number {
  let changed = 0;
  for (let i = 0; i < image.length; i++) {
    const v = writes(f, i);
    if (v !== v) continue;
    if (v !== image[i]) changed |= 1 << i;
    image[i] = v;
  }
  return changed;
}

/** Attack frames of the bursts with the tags each changed, replaying the image from the start. */
function causes(frames: readonly Frame[], bursts: readonly Burst[]): Cause[] {
  const from = bursts.length > 0 ? bursts[0].start : Infinity;
  const open = new Map<number, number>();
  const image = new Float64Array(MSU_TAGS.length).fill(NaN);
  const out: Cause[] = [];
  let next = 0;
  for (const f of frames) {
    const changed = applyFrame(f, image);
    if (f.ts < from || f.category === 0) continue;
    // bursts are sorted by start, and a frame opens or extends the open burst of its category
    while (next < bursts.length && bursts[next].start <= f.ts) open.set(bursts[next].category, next++);
    const b = open.get(f.category);
    if (b !== undefined) out.push({ ts: f.ts, burst: b, changed });
  }
  return out;
}

/** The register-image tags a rule watches, as a bit mask (0: none, the rule judges facts). */
function watched(rule: Record<string, unknown>): number {
  const names = new Set<string>();
  if (typeof rule.tag === 'string') names.add(rule.tag);
  if (Array.isArray(rule.tags)) for (const t of rule.tags) names.add(String(t));
  if (typeof rule.target === 'string') names.add(rule.target);
  if (Array.isArray(rule.terms)) for (const t of rule.terms as Array<{ tag: string }>) names.add(t.tag);
  if (rule.baseline && typeof rule.baseline === 'object') for (const t of Object.keys(rule.baseline)) names.add(t);
  let mask = 0;
  MSU_TAGS.forEach((t, i) => {
    if (names.has(t) || (typeof rule.expr === 'string' && new RegExp(`\\b${t}\\b`).test(rule.expr))) mask |= 1 << i;
  });
  return mask;
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * @param raises condition starts of the replay, in time order
 * @param polls per poll: whether any condition was active
 */
export function scoreBursts(frames: readonly Frame[], from: number, to: number, rules: ReadonlyArray<Record<string, unknown>>, raises: readonly Raise[], polls: ReadonlyArray<{ ts: number; flagged: boolean }>): BurstScore {
  const bursts = findBursts(frames, from);
  const cs = causes(frames, bursts);
  const masks = new Map(rules.map((r) => [String(r.id), watched(r)]));
  const windows = mergedWindows(bursts);
  const inWindow = (ts: number) => windows.some(([s, e]) => ts >= s && ts <= e);
  const falseAlarms: Raise[] = [];
  let unexplained = 0, repeats = 0;
  let c = 0;
  for (const x of raises) {
    while (c < cs.length && cs[c].ts <= x.ts) c++;
    const mask = masks.get(x.rule) ?? 0;
    let hit: Cause | undefined;
    for (let k = c - 1; k >= 0 && x.ts - cs[k].ts <= LOOKBACK_MS; k--) {
      const b = bursts[cs[k].burst];
      if (x.ts > b.end + GRACE_MS) continue;
      if (mask === 0 || (cs[k].changed & mask) !== 0) {
        hit = cs[k];
        break;
      }
    }
    if (hit) {
      const b = bursts[hit.burst];
      if (b.detected_at === undefined) {
        b.detected_at = x.ts;
        b.detected_by = x.rule;
      } else repeats++;
    } else if (inWindow(x.ts)) unexplained++;
    else falseAlarms.push(x);
  }
  const attackMs = windows.reduce((a, [s, e]) => a + Math.max(0, Math.min(e, to) - Math.max(s, from)), 0);

  // Per frame: was a condition active when the attack frame was sent (state of the latest poll)?
  const frameFlags = new Map<number, [number, number]>();
  let p = 0;
  for (const f of frames) {
    if (f.ts < from || f.category === 0) continue;
    while (p + 1 < polls.length && polls[p + 1].ts <= f.ts) p++;
    const n = frameFlags.get(f.category) ?? [0, 0];
    n[0]++;
    if (polls[p]?.flagged) n[1]++;
    frameFlags.set(f.category, n);
  }
  const categories: CategoryScore[] = [];
  for (let k = 1; k < CATEGORY_NAMES.length; k++) {
    const bs = bursts.filter((b) => b.category === k);
    const found = bs.filter((b) => b.detected_at !== undefined);
    const ttd = found.map((b) => Math.max(0, b.detected_at! - b.start));
    const detectors = new Map<string, number>();
    for (const b of found) detectors.set(b.detected_by!, (detectors.get(b.detected_by!) ?? 0) + 1);
    const ff = frameFlags.get(k) ?? [0, 0];
    const visible = bs.filter((b) => distinguishable(frames, from, b));
    const showable_detected = visible.filter((b) => b.detected_at !== undefined).length;
    categories.push({ category: k, name: CATEGORY_NAMES[k], bursts: bs.length, detected: found.length, ttd_median_ms: median(ttd), ttd_max_ms: ttd.length ? Math.max(...ttd) : NaN, frames: ff[0], frames_flagged: ff[1], detectors, showable: visible.length, showable_detected });
  }
  const false_causes = falseAlarms.map((x) => falseCause(frames, x, masks.get(x.rule) ?? 0));
  return { bursts, categories, false_alarms: falseAlarms, false_causes, unexplained, repeats, normal_hours: (to - from - attackMs) / 3_600_000 };
}

export interface FalseCause {
  ts: number;
  /** the frame's label */
  category: number;
  /** the watched tags' values the frame left in the register image */
  values: Record<string, number>;
  /** frames in the whole capture that set these values, labelled normal and attack */
  normal: number;
  attack: number;
}

/**
 * What a false alarm raised on: the latest frame before it that changed a tag the rule watches,
 * the values of those tags it left, and how many frames of the whole capture set the same values
 * (FC16 writes for parameters and states, FC3 answers for the pressure), by label. For scoring
 * only: a reader can judge whether the frame was normal operation.
 */
function falseCause(frames: readonly Frame[], x: Raise, mask: number): FalseCause | undefined {
  if (mask === 0) return undefined;
  const image = new Float64Array(MSU_TAGS.length).fill(NaN);
  let cause: { f: Frame; values: number[] } | undefined;
  for (const f of frames) {
    if (f.ts > x.ts) break;
    if (applyFrame(f, image) & mask) cause = { f, values: [...image] };
  }
  if (!cause) return undefined;
  const watched = MSU_TAGS.map((_, i) => i).filter((i) => mask & (1 << i));
  let normal = 0, attack = 0;
  for (const f of frames) {
    const vs = watched.map((i) => writes(f, i));
    // a frame that writes a watched tag, and only the values the cause left
    if (vs.every((v) => v !== v) || !vs.every((v, k) => v !== v || v === cause!.values[watched[k]])) continue;
    if (f.category === 0) normal++;
    else attack++;
  }
  return { ts: cause.f.ts, category: cause.f.category, values: Object.fromEntries(watched.map((i) => [MSU_TAGS[i], cause!.values[i]])), normal, attack };
}

/** Burst windows (first frame .. last frame + grace), overlapping ones merged. */
function mergedWindows(bursts: readonly Burst[]): Array<[number, number]> {
  const merged: Array<[number, number]> = [];
  for (const [s, e] of bursts.map((b) => [b.start, b.end + GRACE_MS] as const).sort((a, b) => a[0] - b[0])) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}

/** What normal traffic (by label) wrote and answered before `from`: value ranges and states. For scoring only. */
interface NormalRef {
  lo: Float64Array;
  hi: Float64Array;
  states: Set<string>;
}
let normalRef: { frames: readonly Frame[]; from: number; ref: NormalRef } | undefined;

function normalBefore(frames: readonly Frame[], from: number): NormalRef {
  if (normalRef?.frames === frames && normalRef.from === from) return normalRef.ref;
  const ref: NormalRef = { lo: new Float64Array(MSU_TAGS.length).fill(Infinity), hi: new Float64Array(MSU_TAGS.length).fill(-Infinity), states: new Set() };
  for (const f of frames) {
    if (f.ts >= from) break;
    if (f.category !== 0) continue;
    const vals = f.params ?? [];
    vals.forEach((v, i) => ((ref.lo[i] = Math.min(ref.lo[i], v)), (ref.hi[i] = Math.max(ref.hi[i], v))));
    if (f.params) ref.states.add(f.params.slice(STATE_FROM).join(','));
    if (f.pressure !== undefined) (ref.lo[PRESSURE] = Math.min(ref.lo[PRESSURE], f.pressure)), (ref.hi[PRESSURE] = Math.max(ref.hi[PRESSURE], f.pressure));
  }
  normalRef = { frames, from, ref };
  return ref;
}

/** Index of the first state field (system mode, control scheme, pump, solenoid) in Frame.params. */
const STATE_FROM = 6;

/**
 * Whether a polling agent could tell a burst from normal traffic at all: one of its frames goes to
 * another address or uses a function code other than 3 and 16 (the counters show it), writes or
 * answers a value outside what normal traffic wrote or answered before `from`, or sets a
 * combination of states normal traffic never set. A burst that only writes values and states the
 * operator also writes looks, polled, like the operator. Labels are used here to score, never to learn.
 */
export function distinguishable(frames: readonly Frame[], from: number, b: Burst): boolean {
  const ref = normalBefore(frames, from);
  for (const f of frames) {
    if (f.ts < b.start) continue;
    if (f.ts > b.end) break;
    if (f.category !== b.category) continue;
    if (f.address !== UNIT || (f.fc !== 3 && f.fc !== 16)) return true;
    if (f.params && (f.params.some((v, i) => v < ref.lo[i] || v > ref.hi[i]) || !ref.states.has(f.params.slice(STATE_FROM).join(',')))) return true;
    if (f.pressure !== undefined && (f.pressure < ref.lo[PRESSURE] || f.pressure > ref.hi[PRESSURE])) return true;
  }
  return false;
}
