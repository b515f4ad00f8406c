// BATADAL evaluation: learn a baseline on dataset03 (one normal year), replay dataset04 through the
// rule engine, and score every hour against the attack windows of attacks-dataset04.csv (not the
// -999 rows) with the official score S = 0.5 S_TTD + 0.5 (TPR + TNR) / 2.
import fs from 'node:fs';
import path from 'node:path';
import { Learner, type LearnResult } from '../../rules/learn/learner.js';
import type { LearnOptions } from '../../rules/learn/options.js';
import { openRecording, type CsvOptions } from '../../rules/recording/recording.js';
import { Replay } from '../../rules/replay/run.js';
import { batadalScore, scoreRows, type LabelScore, type ScoredRow } from '../../rules/replay/score.js';
import { parseIso } from '../../rules/recording/csv.js';

export const BATADAL_DEVICE = 'ctown';
const CSV: CsvOptions = { device: BATADAL_DEVICE, timeColumn: 'DATETIME', timeFormat: 'DD/MM/YY hh', labels: 'ATT_FLAG' };

export interface AttackWindow {
  id: number;
  start: number;
  end: number;
  target: string;
  summary: string;
}

export interface BatadalResult {
  learned: LearnResult;
  score: LabelScore;
  S: number;
  S_TTD: number;
  S_CM: number;
  windows: AttackWindow[];
  /** raises per rule outside the attack windows (what costs TNR) */
  falseRaises: Map<string, number>;
  /** raises per rule inside the windows */
  trueRaises: Map<string, number>;
}

/** The attack windows file: dataset,attack_id,start,end_inclusive,...,target,summary. */
export function readAttackWindows(file: string): AttackWindow[] {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const head = lines[0].split(',').map((h) => h.trim());
  const col = (n: string) => {
    const i = head.indexOf(n);
    if (i < 0) throw new Error(`${file}: no column '${n}'`);
    return i;
  };
  const [id, start, end, target, summary] = ['attack_id', 'start', 'end_inclusive', 'target', 'summary'].map(col);
  return lines.slice(1).map((l, k) => {
    const c = l.split(',');
    const w = { id: Number(c[id]), start: parseIso(c[start]), end: parseIso(c[end]), target: c[target], summary: c.slice(summary).join(',') };
    if (Number.isNaN(w.start) || Number.isNaN(w.end)) throw new Error(`${file}:${k + 2}: start/end are not times`);
    return w;
  });
}

export async function evalBatadal(dir: string, opts: Partial<LearnOptions> = {}): Promise<BatadalResult> {
  const train = await openRecording(path.join(dir, 'BATADAL_dataset03.csv.gz'), CSV);
  const learner = new Learner(train.devices, opts);
  const learned = await learner.run(train.events());
  const test = await openRecording(path.join(dir, 'BATADAL_dataset04.csv.gz'), CSV);
  const windows = readAttackWindows(path.join(dir, 'attacks-dataset04.csv'));
  const inWindow = (ts: number) => windows.some((w) => ts >= w.start && ts <= w.end);
  const rows: ScoredRow[] = [];
  const falseRaises = new Map<string, number>();
  const trueRaises = new Map<string, number>();
  const replay = new Replay({
    rules: learned.rules.map((r) => r.rule),
    devices: test.devices,
    onCycle: (_d, ts, flagged) => rows.push({ ts, label: inWindow(ts) ? 1 : 0, flagged }),
    onFinding: (f) => {
      if (!f.active) return;
      const m = inWindow(f.ts) ? trueRaises : falseRaises;
      m.set(f.rule, (m.get(f.rule) ?? 0) + 1);
    },
  });
  await replay.run(test.events());
  const score = scoreRows(rows, windows.map((w) => [w.start, w.end] as const));
  return { learned, score, ...batadalScore(score), windows, falseRaises, trueRaises };
}
