// `otsentry learn` live, end to end: the CLI as a child process polls the bundled Modbus tank
// simulator over real TCP. A short window while the tank fills prints progress lines, writes the
// verdict per tag into the baseline and puts the level's rules into review (and the baseline
// validates with the config); --until-stable stops once every tag converged on a fast plant, and
// at its bound on a slow one.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { startModbusSimulator, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { distEntry } from '../helpers/broker.js';
import { tempDir, writeAgentConfig } from '../e2e/harness.js';

const sims: ModbusSimulator[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.stop();
});

/** A tank PLC; time_scale 10 fills for about 18 s from the start, 100 with a small tank cycles in about 1.5 s. */
async function tank(model: Record<string, unknown>, tickMs: number): Promise<ModbusSimulator> {
  const sim = await startModbusSimulator({ plcs: [{ id: 'tank-plc-1', port: 0, model: { type: 'tank', ...model }, tick_ms: tickMs, seed: 1 }] });
  sims.push(sim);
  return sim;
}

/** The CLI as a child process (not spawnSync: the simulator answers from this process). */
function cli(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [distEntry('agent/cli.js'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

function setup(prefix: string, sim: ModbusSimulator, device: Record<string, unknown>) {
  const dir = tempDir(prefix);
  const config = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1', plcs: sim.plcs, device: { identity_interval_ms: 0, diagnostics_interval_ms: 0, ...device } });
  return { dir, config, baseline: path.join(dir, 'baseline.yaml') };
}

type Rule = { id: string; review?: string };

describe('otsentry learn (live polls of the Modbus simulator)', () => {
  it('a short window while the tank fills: progress lines, the verdict in the baseline, the level rules in review', { timeout: 60_000 }, async () => {
    const sim = await tank({ time_scale: 10 }, 100);
    const { dir, config, baseline } = setup('learn-short', sim, { interval_ms: 100, timeout_ms: 20 });
    const r = await cli(['learn', '--config', config, '--duration', '5s', '--progress', '250ms', '-o', baseline], dir);
    expect(r.code, r.err).toBe(0);
    // Progress on stderr (not a terminal: one plain line each time), elapsed never going back.
    const progress = r.err.split('\n').filter((l) => l.startsWith('learn: '));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const l of progress) expect(l).toMatch(/^learn: [\d.]+ (ms|s) of 5 s, \d+ cycles, \d+ samples, \d+ rules so far, \d+\/\d+ tags converged, ETA [\d.]+ (ms|s)$/);
    expect(Number(/(\d+) cycles/.exec(progress.at(-1)!)![1])).toBeGreaterThan(Number(/(\d+) cycles/.exec(progress[0])![1]));
    // The console names the unconverged tag, why, and what to do.
    expect(r.out).toMatch(/^learning from 1 device\(s\) of .*agent\.yaml for 5 s \(Ctrl-C ends early\) \.\.\.\n/);
    expect(r.out).toMatch(/\n {2}tank-plc-1\/level: still widening at the end of [\d.]+ s \(new highs in the last [\d.]+ (ms|s): max [\d.]+ -> [\d.]+\); learn for at least [\d.]+ (s|min), or approve its range by hand\n/);
    expect(r.out).toMatch(/tags have not converged; the \d+ rules that read them start in review \(signal at info until `otsentry approve --config .*agent\.yaml RULE_ID`\):/);
    // The baseline: the verdict as a comment, review on the level's rules, none on the constant mode.
    const text = fs.readFileSync(baseline, 'utf8');
    expect(text).toMatch(/\n# Convergence of each tag's envelope: \d+ of \d+ converged; rules that use the others carry `review`/);
    expect(text).toMatch(/\n# {3}tank-plc-1\/level: still widening at the end of /);
    expect(text).toContain('\n#   tank-plc-1/mode: converged: constant over ');
    const rules = (parse(text) as { rules: Rule[] }).rules;
    expect(rules.find((x) => x.id === 'tank-plc-1.level.range')?.review).toMatch(/^level: still widening at the end of /);
    expect(rules.find((x) => x.id === 'tank-plc-1.baseline')?.review).toBeUndefined();
    // It is a baseline the agent takes, and a rule in review is approved by its id.
    const v = await cli(['validate', '--config', config, '--rules', baseline], dir);
    expect(v.code, v.err).toBe(0);
    const a = await cli(['approve', '--config', config, '--rules', baseline, 'tank-plc-1.level.range', '--reason', 'range checked by hand', '--by', 'alice'], dir);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/^approved tank-plc-1\.level\.range .*\n {2}approved from review: level: still widening at the end of /);
    expect((await cli(['validate', '--config', config, '--rules', baseline], dir)).out).toContain('1 approval in force');
  });

  it('--until-stable stops once every tag converged (a fast plant), and says so', { timeout: 150_000 }, async () => {
    const sim = await tank({ time_scale: 100, tank_area_m2: 0.05 }, 20);
    const { dir, config, baseline } = setup('learn-stable', sim, { interval_ms: 60, timeout_ms: 15 });
    const r = await cli(['learn', '--config', config, '--until-stable', '2m', '--progress', '500ms', '-o', baseline], dir);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^learning from 1 device\(s\) of .*agent\.yaml until every tag converged, at most 2 min \(Ctrl-C ends early\) \.\.\.\nevery tag converged after [\d.]+ (s|min): learning stopped\nlearned \d+ rules /);
    expect(r.out).not.toContain('not converged');
    for (const l of r.err.split('\n').filter((x) => x.startsWith('learn: '))) expect(l).toMatch(/^learn: [\d.]+ (ms|s|min) \(until stable, at most 2 min\), \d+ cycles, \d+ samples, \d+ rules so far, \d+\/\d+ tags converged(, ETA ~[\d.]+ (ms|s|min))?$/);
    const text = fs.readFileSync(baseline, 'utf8');
    expect(text).toMatch(/^# Baseline learned by otsentry .* from live polling of agent\.yaml for [\d.]+ (s|min), until every tag converged\.\n/);
    expect(text).toMatch(/\n# Convergence of each tag's envelope: (\d+) of \1 converged\.\n/);
    expect(text).toMatch(/\n# {3}tank-plc-1\/level: converged over [\d.]+ (s|min) \(\d+ periods of its main variation; no new extreme in the last /);
    const rules = (parse(text) as { rules: Rule[] }).rules;
    expect(rules.map((x) => x.id)).toContain('tank-plc-1.level.range');
    expect(rules.filter((x) => x.review !== undefined)).toEqual([]);
  });

  it('--until-stable ends at its bound when a tag cannot converge in it, with --json for scripts', { timeout: 60_000 }, async () => {
    const sim = await tank({ time_scale: 10 }, 100);
    const { dir, config, baseline } = setup('learn-max', sim, { interval_ms: 100, timeout_ms: 20 });
    const r = await cli(['learn', '--config', config, '--until-stable', '5s', '--json', '-o', baseline], dir);
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/^learn: /m); // --json: no progress (and stdout holds only the JSON)
    const j = JSON.parse(r.out) as { stop: { kind: string }; review: string[]; tags: Array<{ tag: string; verdict: string; converged: boolean; learn_ms?: number }> };
    expect(j.stop.kind).toBe('max');
    const level = j.tags.find((t) => t.tag === 'level')!;
    expect(level).toMatchObject({ verdict: 'widening', converged: false });
    expect(level.learn_ms).toBeGreaterThan(5000);
    expect(j.review).toContain('tank-plc-1.level.range');
    expect(fs.readFileSync(baseline, 'utf8')).toMatch(/^# Baseline learned by otsentry .* from live polling of agent\.yaml for [\d.]+ s \(the --until-stable bound\)\.\n/);
  });
});
