// Replay of a rule set over a recording: per rule counts with first and last time, signals, label
// scores (precision, recall, false-positive rate, time to detect per attack), and the CLI's output,
// --events file and exit codes (0 quiet, 3 something fired, 4 gate failed, 1 bad input, 2 usage).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRecording } from '../../rules/recording/recording.js';
import { Replay } from '../../rules/replay/run.js';
import { batadalScore, scoreRows } from '../../rules/replay/score.js';
import { distEntry } from '../helpers/broker.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-replay-'));
const T = (s: number) => new Date(Date.UTC(2025, 2, 1, 8, 0, s)).toISOString();
/** 12 rows: level 2.0 .. , spoofed to 9 at rows 5-6 and 9; label 1 at rows 5-7. */
const rows = Array.from({ length: 12 }, (_, i) => `${T(i)},${[5, 6, 9].includes(i) ? 9 : (2 + i / 100).toFixed(2)},${i % 2},${i >= 5 && i <= 7 ? 1 : 0}`);
const csv = path.join(dir, 'tank.csv');
fs.writeFileSync(csv, `time,level,pump,attack\n${rows.join('\n')}\n`);
const rulesFile = path.join(dir, 'rules.yaml');
fs.writeFileSync(rulesFile, 'rules:\n  - { id: level-range, type: range, device: tank1, tag: level, min: 0, max: 5 }\n  - { id: pump-values, type: allowed_values, device: tank1, tag: pump, values: [0, 1] }\n');
const quietFile = path.join(dir, 'quiet.yaml');
fs.writeFileSync(quietFile, 'rules:\n  - { id: pump-values, type: allowed_values, device: tank1, tag: pump, values: [0, 1] }\n');

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('Replay', () => {
  it('counts conditions per rule, emits signals, and scores labelled cycles', async () => {
    const rec = await openRecording(csv, { device: 'tank1', labels: 'attack' });
    const signals: string[] = [];
    const replay = new Replay({
      rules: [{ id: 'level-range', type: 'range', device: 'tank1', tag: 'level', min: 0, max: 5 }],
      devices: rec.devices,
      scoreLabels: true,
      onSignal: (d) => signals.push(`${d.state} ${d.ts}`),
    });
    const s = await replay.run(rec.events());
    expect(s).toMatchObject({ cycles: 12, samples: 24, raised: 2, signals: { raised: 2, cleared: 2 }, active_at_end: 0, first_ts: Date.parse(T(0)), last_ts: Date.parse(T(11)) });
    expect(s.rules).toEqual([{ rule: 'level-range', type: 'range', device: 'tank1', raised: 2, cleared: 2, first: Date.parse(T(5)), last: Date.parse(T(9)) }]);
    expect(signals).toEqual([`raised ${T(5)}`, `cleared ${T(7)}`, `raised ${T(9)}`, `cleared ${T(10)}`]);
    expect(s.labels).toMatchObject({ rows: 12, attack_rows: 3, normal_rows: 9, tp: 2, fn: 1, fp: 1, tn: 8 });
    expect(s.labels!.precision).toBeCloseTo(2 / 3);
    expect(s.labels!.recall).toBeCloseTo(2 / 3);
    expect(s.labels!.fpr).toBeCloseTo(1 / 9);
    expect(s.labels!.attacks).toEqual([{ id: 1, start: Date.parse(T(5)), end: Date.parse(T(7)), rows: 3, detected_at: Date.parse(T(5)), ttd_ms: 0, ttd_share: 0, flagged: 2 }]);
  });

  it('without link facts or cycle lines, a cycle ends when one of its tags comes again', async () => {
    const f = path.join(dir, 'plain.jsonl');
    const line = (tag: string, value: number, ts: number) => JSON.stringify({ type: 'sample', device: 'p', tag, value, ts });
    fs.writeFileSync(f, [line('a', 1, 1000), line('b', 1, 1002), line('a', 2, 2000), line('b', 9, 2001), line('a', 3, 3000)].join('\n'));
    const rec = await openRecording(f);
    const ends: number[] = [];
    const r = new Replay({ rules: [{ id: 'b-max', type: 'range', device: 'p', tag: 'b', max: 5 }], devices: rec.devices, onCycle: (_d, ts) => ends.push(ts) });
    const s = await r.run(rec.events());
    expect(ends).toEqual([1002, 2001, 3000]);
    expect(s).toMatchObject({ cycles: 3, raised: 1 });
  });

  it('scores given attack windows the BATADAL way', () => {
    const r = (ts: number, label: number, flagged: boolean) => ({ ts, label, flagged });
    const s = scoreRows([r(0, 0, false), r(1, 1, false), r(2, 1, true), r(3, 1, true), r(4, 0, true), r(5, 1, false), r(6, 0, false)], [[1, 3], [5, 5]]);
    expect(s.attacks.map((a) => [a.rows, a.ttd_share])).toEqual([[3, 1 / 3], [1, 1]]);
    const b = batadalScore(s);
    expect(b.S_TTD).toBeCloseTo(1 - (1 / 3 + 1) / 2);
    expect(b.S_CM).toBeCloseTo((2 / 4 + 2 / 3) / 2);
    expect(b.S).toBeCloseTo(0.5 * b.S_TTD + 0.5 * b.S_CM);
  });
});

describe('otsentry replay', () => {
  it('prints per rule counts and label scores, writes --events, exits 3 when something would fire', () => {
    const events = path.join(dir, 'events.jsonl');
    const r = cli('replay', '--input', csv, '--rules', rulesFile, '--device', 'tank1', '--labels', 'attack', '--events', events);
    expect(r.err).toBe('');
    expect(r.code).toBe(3);
    expect(r.out).toContain('replay of ');
    expect(r.out).toMatch(/rules: 2, 1 would fire \(2 conditions raised\)/);
    expect(r.out).toMatch(/level-range\s+range\s+2\s+2\s+2025-03-01T08:00:05Z\s+2025-03-01T08:00:09Z/);
    expect(r.out).toMatch(/precision 0\.667 {2}recall 0\.667 {2}false-positive rate 0\.111/);
    expect(r.out).toMatch(/1 {2}2025-03-01T08:00:05Z\s+2025-03-01T08:00:07Z\s+3\s+2 {2}0 s/);
    const lines = fs.readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; state: string; ts: string; rule: string });
    expect(lines.map((l) => [l.seq, l.state, l.ts, l.rule])).toEqual([
      [1, 'raised', T(5), 'level-range'],
      [2, 'cleared', T(7), 'level-range'],
      [3, 'raised', T(9), 'level-range'],
      [4, 'cleared', T(10), 'level-range'],
    ]);
  });

  it('exits 0 when nothing fires, 0 or 4 for quality gates, with --json for machines', () => {
    expect(cli('replay', '-i', csv, '-r', quietFile, '--device', 'tank1', '--ignore', 'attack').code).toBe(0);
    const pass = cli('replay', '-i', csv, '-r', rulesFile, '--device', 'tank1', '--labels', 'attack', '--min-recall', '0.6', '--json');
    expect(pass.code).toBe(0);
    expect(JSON.parse(pass.out)).toMatchObject({ cycles: 12, raised: 2, labels: { recall: 2 / 3, attacks: [{ id: 1, detected_at: T(5), ttd_ms: 0 }] } });
    const fail = cli('replay', '-i', csv, '-r', rulesFile, '--device', 'tank1', '--labels', 'attack', '--max-fpr', '0.05');
    expect(fail.code).toBe(4);
    expect(fail.out).toContain('quality gate failed: false-positive rate 0.111 is above --max-fpr 0.05');
  });

  it('exits 1 naming the place for bad input, 2 for usage mistakes', () => {
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, `time,level,pump\n${T(0)},1,0\n${T(1)},x,0\n`);
    expect(cli('replay', '-i', bad, '-r', rulesFile, '--device', 'tank1')).toMatchObject({ code: 1, err: `otsentry: ${bad}:3: column 'level': 'x' is not a number; use numbers or true/false, or leave the cell empty\n` });
    const badRules = path.join(dir, 'bad-rules.yaml');
    fs.writeFileSync(badRules, 'rules:\n  - { id: r, type: range, device: tank1, tag: levle, max: 5 }\n');
    const r = cli('replay', '-i', csv, '-r', badRules, '--device', 'tank1', '--ignore', 'attack');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${badRules}: rules[0].tag: unknown tag 'levle' on device 'tank1'; known tags: level, pump`);
    expect(cli('replay', '-i', csv)).toMatchObject({ code: 2, err: 'otsentry: give the rules to replay: --config FILE (its rules) and/or --rules FILE\n' });
    expect(cli('replay', '-i', csv, '-r', rulesFile, '--min-recall', '0.5').code).toBe(2);
  });
});
