// MSU gas pipeline evaluation: the frames drive a modelled PLC that an agent polls once a second
// (msu_plc.ts). A baseline is learned on the normal traffic of the first part of dev.csv.gz, then
// the rest (all traffic) is replayed through the rule engine and scored per attack burst: a burst
// is the attack frames of one category with less than BURST_GAP_MS between them; it is detected
// when a condition starts between its first frame and GRACE_MS after its last one.
import { Learner, type LearnResult } from '../../rules/learn/learner.js';
import type { LearnOptions } from '../../rules/learn/options.js';
import { Replay } from '../../rules/replay/run.js';
import { FramePlc, MSU_DEVICE, MSU_TAGS, pollFrames, readFrames, type Frame } from './msu_plc.js';

export const BURST_GAP_MS = 30_000;
export const GRACE_MS = BURST_GAP_MS;
export const CATEGORY_NAMES = ['Normal', 'NMRI', 'CMRI', 'MSCI', 'MPCI', 'MFCI', 'DoS', 'Recon'];

export interface Burst {
  category: number;
  start: number;
  end: number;
  frames: number;
  detected_at?: number;
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
}

export interface MsuResult {
  learned: LearnResult;
  learn_until: number;
  categories: CategoryScore[];
  bursts: Burst[];
  /** condition starts outside every burst (+ grace) */
  false_alarms: number;
  /** when they were raised, by which rule */
  false_alarm_list: Array<{ ts: number; rule: string }>;
  normal_hours: number;
  /** raises per rule outside bursts */
  falseRaises: Map<string, number>;
  /** first detecting rule per category */
  detectors: Map<number, Map<string, number>>;
}

export function findBursts(frames: readonly Frame[], from: number): Burst[] {
  const open = new Map<number, Burst>();
  const out: Burst[] = [];
  for (const f of frames) {
    if (f.ts < from || f.category === 0) continue;
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
  return out.sort((a, b) => a.start - b.start);
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * @param split share of the capture (by time) whose normal traffic is learned; the rest is scored
 */
export async function evalMsu(file: string, opts: Partial<LearnOptions> = {}, split = 0.4): Promise<MsuResult> {
  const frames = await readFrames(file);
  const t0 = frames[0].ts;
  const tEnd = frames[frames.length - 1].ts;
  const learnUntil = Math.round(t0 + split * (tEnd - t0));
  const devices = [{ id: MSU_DEVICE, tags: MSU_TAGS.map((name) => ({ name })) }];
  const plc = new FramePlc();

  const learner = new Learner(devices, opts);
  for (const p of pollFrames(frames, plc, t0, learnUntil, (f) => f.category === 0)) learner.cycle(p);
  const learned = learner.result();

  const raises: Array<{ ts: number; rule: string }> = [];
  const polls: Array<{ ts: number; flagged: boolean }> = [];
  const replay = new Replay({
    rules: learned.rules.map((r) => r.rule),
    devices,
    onFinding: (f) => {
      if (f.active) raises.push({ ts: f.ts, rule: f.rule });
    },
    onCycle: (_d, ts, flagged) => polls.push({ ts, flagged }),
  });
  for (const p of pollFrames(frames, plc, learnUntil, tEnd + 1000, () => true)) replay.pushCycle(p);
  replay.finish();

  const bursts = findBursts(frames, learnUntil);
  const detectors = new Map<number, Map<string, number>>();
  let r = 0;
  for (const b of bursts) {
    while (r < raises.length && raises[r].ts < b.start) r++;
    const hit = r < raises.length && raises[r].ts <= b.end + GRACE_MS ? raises[r] : undefined;
    if (!hit) continue;
    b.detected_at = hit.ts;
    const m = detectors.get(b.category) ?? new Map<string, number>();
    m.set(hit.rule, (m.get(hit.rule) ?? 0) + 1);
    detectors.set(b.category, m);
  }
  // Alarms outside every burst window, and the normal time they are counted against.
  const windows = bursts.map((b) => [b.start, b.end + GRACE_MS] as const).sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of windows) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const inBurst = (ts: number) => {
    let lo = 0, hi = merged.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ts < merged[mid][0]) hi = mid - 1;
      else if (ts > merged[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  };
  const falseRaises = new Map<string, number>();
  const falseList: Array<{ ts: number; rule: string }> = [];
  let falseAlarms = 0;
  for (const x of raises) {
    if (inBurst(x.ts)) continue;
    falseAlarms++;
    falseList.push(x);
    falseRaises.set(x.rule, (falseRaises.get(x.rule) ?? 0) + 1);
  }
  const attackMs = merged.reduce((a, [s, e]) => a + Math.min(e, tEnd) - Math.max(s, learnUntil), 0);
  const normalHours = (tEnd - learnUntil - attackMs) / 3_600_000;

  // Per frame: was a condition active when the attack frame was sent (state of the latest poll)?
  const frameFlags = new Map<number, [number, number]>();
  let p = 0;
  for (const f of frames) {
    if (f.ts < learnUntil || f.category === 0) continue;
    while (p + 1 < polls.length && polls[p + 1].ts <= f.ts) p++;
    const c = frameFlags.get(f.category) ?? [0, 0];
    c[0]++;
    if (polls[p]?.flagged) c[1]++;
    frameFlags.set(f.category, c);
  }
  const categories: CategoryScore[] = [];
  for (let c = 1; c < CATEGORY_NAMES.length; c++) {
    const bs = bursts.filter((b) => b.category === c);
    const ttd = bs.filter((b) => b.detected_at !== undefined).map((b) => Math.max(0, b.detected_at! - b.start));
    const ff = frameFlags.get(c) ?? [0, 0];
    categories.push({ category: c, name: CATEGORY_NAMES[c], bursts: bs.length, detected: ttd.length, ttd_median_ms: median(ttd), ttd_max_ms: ttd.length ? Math.max(...ttd) : NaN, frames: ff[0], frames_flagged: ff[1] });
  }
  return { learned, learn_until: learnUntil, categories, bursts, false_alarms: falseAlarms, false_alarm_list: falseList, normal_hours: normalHours, falseRaises, detectors };
}
