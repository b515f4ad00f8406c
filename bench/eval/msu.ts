// MSU gas pipeline evaluation: the frames drive a modelled PLC that an agent polls once a second
// (msu_plc.ts). A baseline is learned on ALL traffic of the first part of dev.csv.gz, attacks
// included, as a user learning on a live plant would (the labels are never read while learning),
// then the rest is replayed through the rule engine and scored per attack burst (msu_score.ts).
import { markReview } from '../../rules/learn/convergence.js';
import { Learner, type LearnResult } from '../../rules/learn/learner.js';
import type { LearnOptions } from '../../rules/learn/options.js';
import { Replay } from '../../rules/replay/run.js';
import { FramePlc, MSU_DEVICE, MSU_POLLING, MSU_TAGS, pollFrames, readFrames, type Frame } from './msu_plc.js';
import { scoreBursts, type BurstScore, type Raise } from './msu_score.js';

export { BURST_GAP_MS, GRACE_MS, CATEGORY_NAMES, findBursts, type Burst, type CategoryScore, type FalseCause } from './msu_score.js';

export interface MsuSettings {
  /** share of the capture (by time) that is learned; the rest is scored */
  split: number;
  learn: Partial<LearnOptions>;
  /**
   * Learn only on frames labelled normal: an upper bound no user can reach (a live plant has no
   * labels), printed as such.
   */
  label_filtered: boolean;
  /** the modelled, load-dependent PLC response time (not in the data) */
  rtt_model: boolean;
}

export const MSU_SETTINGS: Readonly<MsuSettings> = Object.freeze({ split: 0.4, learn: {}, label_filtered: false, rtt_model: false });

export interface MsuResult extends BurstScore {
  settings: MsuSettings;
  learned: LearnResult;
  learn_until: number;
  /** raises per rule outside every burst window */
  falseRaises: Map<string, number>;
  /**
   * The rules a fresh `otsentry learn` would write in review (a tag they read had not converged:
   * they signal at info until approved), and the score of the other rules' raises alone: what
   * raises an alert before anyone approved anything.
   */
  review: { ids: string[]; alerts: BurstScore };
}

let cache: { file: string; frames: Frame[] } | undefined;

/** The frames of a capture (the last file read is kept: every evaluation variant reads the same one). */
export async function msuFrames(file: string): Promise<Frame[]> {
  if (cache?.file !== file) cache = { file, frames: await readFrames(file) };
  return cache.frames;
}

export async function evalMsu(file: string, settings: Partial<MsuSettings> = {}): Promise<MsuResult> {
  const s: MsuSettings = { ...MSU_SETTINGS, ...settings };
  const frames = await msuFrames(file);
  const polling = { ...MSU_POLLING, rtt_model: s.rtt_model };
  const t0 = frames[0].ts;
  const tEnd = frames[frames.length - 1].ts;
  const learnUntil = Math.round(t0 + s.split * (tEnd - t0));
  const devices = [{ id: MSU_DEVICE, tags: MSU_TAGS.map((name) => ({ name })) }];
  const plc = new FramePlc();

  const learner = new Learner(devices, s.learn);
  const keep = s.label_filtered ? (f: Frame) => f.category === 0 : () => true;
  for (const p of pollFrames(frames, plc, t0, learnUntil, keep, polling)) learner.cycle(p);
  const learned = learner.result();

  const raises: Raise[] = [];
  const polls: Array<{ ts: number; flagged: boolean }> = [];
  const replay = new Replay({
    rules: learned.rules.map((r) => r.rule),
    devices,
    onFinding: (f) => {
      if (f.active) raises.push({ ts: f.ts, rule: f.rule });
    },
    onCycle: (_d, ts, flagged) => polls.push({ ts, flagged }),
  });
  for (const p of pollFrames(frames, plc, learnUntil, tEnd + 1000, () => true, polling)) replay.pushCycle(p);
  replay.finish();
  raises.sort((a, b) => a.ts - b.ts);

  const rules = learned.rules.map((r) => r.rule);
  const score = scoreBursts(frames, learnUntil, tEnd, rules, raises, polls);
  const falseRaises = new Map<string, number>();
  for (const x of score.false_alarms) falseRaises.set(x.rule, (falseRaises.get(x.rule) ?? 0) + 1);
  const ids = markReview(structuredClone(learned.rules), learned.convergence);
  const inReview = new Set(ids);
  const alerts = scoreBursts(frames, learnUntil, tEnd, rules, raises.filter((x) => !inReview.has(x.rule)), polls);
  return { ...score, settings: s, learned, learn_until: learnUntil, falseRaises, review: { ids, alerts } };
}

/** False alarms per day of normal traffic. */
export function falsePerDay(r: BurstScore): number {
  return (r.false_alarms.length / r.normal_hours) * 24;
}
