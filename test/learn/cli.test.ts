// `otsentry learn` end to end: a JSONL recording written by the agent's RecordingWriter from a
// synthetic tank is learned into a baseline file that validates with the sample config, replays
// quiet on held-back normal data and loud on an attack; CSV labels keep attack rows out of learning.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { RecordingWriter } from '../../agent/record/record.js';
import { silentLogger } from '../../protocols/log.js';
import { learnCommand, type LearnCommandOptions } from '../../agent/cli/learn.js';
import { readRulesFile } from '../../rules/learn/rulesfile.js';
import { replayCommand } from '../../agent/cli/replay.js';
import { ExitStatus } from '../../rules/replay/report.js';
import { openRecording } from '../../rules/recording/recording.js';
import { distEntry } from '../helpers/broker.js';
import { TANK_TAG_NAMES, TankStream, type Scenario } from '../rules/tank_stream.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SAMPLE = path.join(ROOT, 'protocols/modbus/sample.yaml');
const DEVICE = 'tank-plc-1';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-learn-'));

function record(name: string, polls: number, seed: number, scenario: Scenario = 'none', from = 0): string {
  const file = path.join(dir, name);
  const w = new RecordingWriter(file, [{ id: DEVICE, tags: TANK_TAG_NAMES.map((n) => ({ name: n })) }]);
  const s = new TankStream(DEVICE, 10, seed, Date.parse('2025-05-01T00:00:00Z') + seed * 86_400_000);
  for (let i = 0; i < polls; i++) {
    const p = s.poll(i, i >= from ? scenario : 'none', from);
    w.writeCycle({ device: DEVICE, samples: p.samples, facts: p.facts, skipped_cycles: 0 });
  }
  w.close();
  return file;
}

/** The learn command in process (the CLI itself is spawned where its exit code matters). */
async function learn(o: Partial<LearnCommandOptions>): Promise<string> {
  let out = '';
  await learnCommand({ out: path.join(dir, 'x.yaml'), learn: {}, logger: silentLogger, print: (t) => (out += t), ...o });
  return out;
}

async function replay(...files: Array<[string, string]>): Promise<{ code: number; out: string }> {
  let out = '';
  const o = Object.fromEntries(files) as { input: string; config?: string; rules?: string };
  try {
    await replayCommand({ input: o.input, config: o.config, rules: o.rules ? [o.rules] : undefined, json: true, print: (t) => (out += t) });
    return { code: 0, out };
  } catch (e) {
    if (e instanceof ExitStatus) return { code: e.exitCode, out };
    throw e;
  }
}

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('otsentry learn', () => {
  const train = record('train.jsonl', 2400, 7);
  const baseline = path.join(dir, 'baseline.yaml');

  it('writes a recording the readers understand', async () => {
    const rec = await openRecording(train);
    expect(rec.devices).toEqual([{ id: DEVICE, tags: TANK_TAG_NAMES.map((name) => ({ name })) }]);
    let cycles = 0;
    for await (const e of rec.events()) if (e.kind === 'fact' && e.fact.kind === 'link') cycles++;
    expect(cycles).toBe(2400);
  });

  it('learns a reviewable baseline that validates with the config and replays quiet on normal data', async () => {
    const printed = await learn({ config: SAMPLE, from: train, out: baseline });
    expect(printed).toMatch(/^learned \d+ rules \(1 integrity, 1 identity, .*\) from \d+ samples -> .*baseline\.yaml\nevery tag converged \(23 of 23\)\n$/);
    const text = fs.readFileSync(baseline, 'utf8');
    expect(text).toMatch(/^# Baseline learned by otsentry .* from train\.jsonl\.\n# Window 2025-05-08T00:00:00Z \.\. /);
    expect(text).toContain('  # level: observed ');
    expect(text).toContain(`  - id: ${DEVICE}.level.range\n    type: range\n    device: ${DEVICE}\n    tag: level\n`);
    const rules = readRulesFile(baseline) as Array<{ id: string }>;
    expect(rules.map((x) => x.id)).toContain(`${DEVICE}.baseline`);
    expect(parse(text)).toEqual({ rules });
    expect(cli('validate', '--config', SAMPLE, '--rules', baseline).out).toMatch(new RegExp(`valid \\(1 device, 25 tags, ${13 + rules.length} rules\\)`));
    const normal = record('normal.jsonl', 600, 3);
    const q = await replay(['config', SAMPLE], ['rules', baseline], ['input', normal]);
    expect(q.code).toBe(0);
    expect(JSON.parse(q.out)).toMatchObject({ cycles: 600, raised: 0 });
  });

  it('the baseline catches an attack in a recording', async () => {
    const attack = record('tamper.jsonl', 300, 3, 'setpoint-tamper', 200);
    const r = await replay(['rules', baseline], ['input', attack]);
    expect(r.code).toBe(3);
    const s = JSON.parse(r.out) as { rules: Array<{ rule: string; first: string }> };
    expect(s.rules.map((x) => x.rule)).toContain(`${DEVICE}.baseline`);
  });

  it('learns only from rows labelled normal, and says what is missing', async () => {
    const csv = path.join(dir, 'labelled.csv');
    const rows = Array.from({ length: 200 }, (_, i) => `${1_740_000_000 + i},${(20 + Math.sin(i / 5)).toFixed(3)},${i >= 100 && i < 110 ? 1 : 0}`);
    rows[105] = `${1_740_000_105},99,1`;
    fs.writeFileSync(csv, `ts,temp,attack\n${rows.join('\n')}\n`);
    const out = path.join(dir, 'csv-baseline.yaml');
    await learn({ from: csv, labels: 'attack', device: 'oven', out });
    const range = (readRulesFile(out) as Array<Record<string, unknown>>).find((x) => x.id === 'oven.temp.range')!;
    expect(range.max).toBeLessThan(22);
    expect(cli('learn', '-o', out)).toMatchObject({ code: 2, err: 'otsentry: give --from RECORDING (learn from a recording) or --duration 1h (poll the devices of --config)\n' });
    await expect(learn({ durationMs: 1000, out })).rejects.toThrow('--duration polls the devices of a config: give --config FILE');
    await expect(learn({ from: path.join(dir, 'nope.csv'), out })).rejects.toThrow(/nope\.csv: file not found/);
  });

  it('--until-stable with --from learns the recording up to where every tag converged, and says where', async () => {
    // A temperature cycling every 100 s, sampled each second for 20 periods.
    const csv = path.join(dir, 'cycling.csv');
    const rows = Array.from({ length: 2000 }, (_, i) => `${1_740_000_000 + i},${(20 + 2 * Math.sin((2 * Math.PI * i) / 100) + 0.01 * Math.cos(i * 7.3)).toFixed(3)}`);
    fs.writeFileSync(csv, `ts,temp\n${rows.join('\n')}\n`);
    const out = path.join(dir, 'stable.yaml');
    const printed = await learn({ from: csv, device: 'oven', out, untilStableMs: 86_400_000 });
    const m = /^every tag converged after ([\d.]+) (s|min) of the recording \(at 2025-02-19T\S+Z, line (\d+)\); the rest of it was not used\nlearned \d+ rules .* from (\d+) samples -> /.exec(printed);
    expect(m, printed).not.toBeNull();
    const [line, samples] = [Number(m![3]), Number(m![4])];
    // About three periods were needed (300 samples), and not the whole recording.
    expect(samples).toBeGreaterThanOrEqual(290);
    expect(samples).toBeLessThan(2000);
    expect(line).toBe(samples + 1); // one row per line after the header
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toMatch(/^# Baseline learned by otsentry .* from cycling\.csv, up to where every tag converged \(after [\d.]+ (s|min) of it\)\.\n/);
    expect(text).toContain('\n#   oven/temp: converged over ');
    expect((readRulesFile(out) as Array<{ review?: string }>).every((r) => r.review === undefined)).toBe(true);

    // A bound shorter than three periods: learning ends there, and the rules are in review.
    const short = await learn({ from: csv, device: 'oven', out, untilStableMs: 150_000 });
    expect(short).toMatch(/^not every tag converged within the first 2\.5 min of the recording counting every sample \(the --until-stable bound, reached at 2025-02-19T\S+Z, line 152\); learned from that part\n/);
    expect(short).toMatch(/\n {2}oven\/temp: only 1\.5 periods of its main variation in 2\.5 min; learn for at least 5 min \(3 periods\), or approve its range by hand\n/);
    expect((readRulesFile(out) as Array<{ id: string; review?: string }>).find((r) => r.id === 'oven.temp.range')?.review).toMatch(/^temp: only 1\.5 periods/);

    // A ramp never converges: the recording ends first.
    const ramp = path.join(dir, 'ramp.csv');
    fs.writeFileSync(ramp, `ts,level\n${Array.from({ length: 300 }, (_, i) => `${1_740_000_000 + i},${(i / 100).toFixed(2)}`).join('\n')}\n`);
    expect(await learn({ from: ramp, device: 'tank', out, untilStableMs: 86_400_000 })).toMatch(/^the recording ended after 5 min, before every tag converged counting every sample\n/);
  });

  it('refuses --until-stable combined with --duration, or without a bound', async () => {
    expect(cli('learn', '--config', SAMPLE, '--duration', '1m', '--until-stable', '1h', '-o', 'x.yaml')).toMatchObject({ code: 2, err: 'otsentry: give --duration (learn this long) or --until-stable MAX (learn until every tag converged, at most MAX), not both\n' });
    expect(cli('learn', '--config', SAMPLE, '--until-stable', '0', '-o', 'x.yaml')).toMatchObject({ code: 2, err: 'otsentry: --until-stable needs a bound above 0, e.g. --until-stable 24h\n' });
    await expect(learn({ untilStableMs: 1000, out: path.join(dir, 'y.yaml') })).rejects.toThrow('--until-stable without --from polls the devices of a config: give --config FILE');
  });
});
