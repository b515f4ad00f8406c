// The command line as users run it (`node dist/agent/cli.js ...`): exit codes, clear messages,
// never a stack trace.
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { distEntry } from '../helpers/broker.js';
import { tempDir } from '../e2e/harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function otsentry(args: string[], opts: { timeout?: number } = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: opts.timeout ?? 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('otsentry validate', () => {
  it('accepts the sample config', () => {
    const r = otsentry(['validate', '--config', 'protocols/modbus/sample.yaml']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sample\.yaml: valid \(1 device, 25 tags, \d+ rules\)/);
  });

  it('prints every problem as path: message and exits 1', () => {
    const r = otsentry(['validate', '--config', 'test/config/cases/many-problems.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('many-problems.yaml: 5 problems');
    expect(r.err).toContain('broker.url: use mqtt://host:port or mqtts://host:port');
    expect(r.err).toContain("devices[0].unit_idd: unknown key 'unit_idd'");
    noStack(r.err);
  });

  it('names a missing file and the fix', () => {
    const r = otsentry(['validate', '--config', 'nope.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.yaml: 1 problem\n\(file\): file not found; check the path given to --config/);
  });
});

describe('otsentry run', () => {
  it('refuses a bad config before any I/O', () => {
    const dir = tempDir('cli-run');
    const file = path.join(dir, 'agent.yaml');
    fs.writeFileSync(file, fs.readFileSync(path.join(ROOT, 'test/config/cases/unknown-rule-tag.yaml'), 'utf8').replace('plant-a }', `plant-a, data_dir: ${path.join(dir, 'data')} }`));
    const r = otsentry(['run', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("rules[0].tag: unknown tag 'levle'");
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
    noStack(r.err);
  });
});

describe('usage errors', () => {
  it('explains an unknown command', () => {
    const r = otsentry(['rnu']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command 'rnu'/);
  });

  it('explains an unknown demo scenario with the list of known ones', () => {
    const r = otsentry(['demo', '--scenario', 'nope', '--duration', '20s']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--scenario nope is unknown; choose one of: .*setpoint-tamper/);
    noStack(r.err);
  });

  it('explains a bad duration', () => {
    const r = otsentry(['demo', '--duration', 'soon']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/'soon' is not a duration; write e\.g\. 500ms, 30s, 5m or 1h/);
  });

  it('prints its version', () => {
    const r = otsentry(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });
});

describe('otsentry demo', () => {
  it('shows the attack as risk signals arriving at the broker and exits 0', { timeout: 40_000 }, async () => {
    const child = spawn(process.execPath, [distEntry('agent/cli.js'), 'demo', '--scenario', 'setpoint-tamper', '--duration', '17s', '--plcs', '1'], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/broker mqtt:\/\/127\.0\.0\.1:\d+ \(embedded\)/);
    expect(out).toContain(">>> attack 'setpoint-tamper' started on tank-plc-1");
    expect(out).toMatch(/HIGH\s+RAISED\s+integrity\s+tank-plc-1/);
    expect(out).toMatch(/cleared\s+integrity\s+tank-plc-1/);
    expect(out).toMatch(/demo finished: \d+ risk signals \(\d+ raised, \d+ cleared/);
    expect(out).toContain('hash chain: intact');
    // Central ran against the same broker: it verified and stored the agent's whole chain.
    expect(out).toMatch(/^central: verifying and storing every signal into /m);
    expect(out).toMatch(/^central: [1-9]\d* signals verified and stored \(0 duplicates dropped\); chain demo-site\/demo-gw verified to seq [1-9]/m);
  });
});
