// The systemd unit in deploy/: rated 2.0 or better by `systemd-analyze security --offline=yes`
// (alone and with the serial drop-in), accepted by `systemd-analyze verify`, and consistent with
// the sample /etc/otsentry/agent.yaml, which passes `otsentry validate`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { distEntry } from '../helpers/broker.js';
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from '../../agent/node-flags.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const UNIT = path.join(ROOT, 'deploy/otsentry.service');
const SERIAL = path.join(ROOT, 'deploy/otsentry-serial.conf');
const SAMPLE = path.join(ROOT, 'deploy/agent.yaml');
const MAX_EXPOSURE = 2.0;

const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((f) => fs.existsSync(f));

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `otsentry-${prefix}-`));
}

/** Directive values of the unit's [Service] section (last one wins, as in systemd). */
function directives(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** The unit (and optional drop-in) in a temporary folder, laid out as systemd reads them. */
function unitCopy(withSerial: boolean): string {
  const dir = tempDir('unit');
  const unit = path.join(dir, 'otsentry.service');
  fs.copyFileSync(UNIT, unit);
  if (withSerial) {
    fs.mkdirSync(path.join(dir, 'otsentry.service.d'));
    fs.copyFileSync(SERIAL, path.join(dir, 'otsentry.service.d', 'serial.conf'));
  }
  return unit;
}

/** Runs `systemd-analyze security --offline=yes` and returns the overall exposure and the table. */
function exposure(unit: string): { level: number; table: string } {
  const r = spawnSync(analyze!, ['security', '--offline=yes', '--no-pager', unit], { encoding: 'utf8' });
  const text = `${r.stdout}\n${r.stderr}`;
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(text);
  if (!m) throw new Error(`no overall exposure figure in systemd-analyze output (exit ${r.status}):\n${text}`);
  return { level: Number(m[1]), table: text };
}

describe(analyze ? `systemd unit rating (${analyze})` : 'systemd unit rating: systemd-analyze is not installed here, the rating is NOT checked (apt-get install systemd)', () => {
  if (!analyze) {
    it('reports that the rating could not be checked', () => {
      console.warn('systemd-analyze not found: deploy/otsentry.service was not rated on this machine.');
      expect(analyze).toBeUndefined();
    });
    return;
  }

  it(`deploy/otsentry.service is rated ${MAX_EXPOSURE.toFixed(1)} or lower`, () => {
    const { level, table } = exposure(unitCopy(false));
    console.log(`systemd-analyze security --offline=yes deploy/otsentry.service: ${level}`);
    expect(level, table).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it(`with the serial drop-in it grants exactly /dev/ttyUSB0 and is still rated ${MAX_EXPOSURE.toFixed(1)} or lower`, () => {
    const { level, table } = exposure(unitCopy(true));
    console.log(`systemd-analyze security --offline=yes deploy/otsentry.service + otsentry-serial.conf: ${level}`);
    // The drop-in was read: the device ACL names the port and PrivateDevices is off.
    expect(table).toMatch(/DeviceAllow=.*\/dev\/ttyUSB0:rw/);
    expect(table).toMatch(/✗ PrivateDevices=/);
    expect(level, table).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it('systemd-analyze verify accepts the unit', () => {
    // ExecStart names /usr/bin/node; verify checks that it exists, so point it at this node.
    const unit = unitCopy(false);
    fs.writeFileSync(unit, fs.readFileSync(unit, 'utf8').replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
    const r = spawnSync(analyze, ['verify', unit], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr.trim()).toBe('');
  });
});

describe('unit and sample config', () => {
  const unit = directives(UNIT);

  it('runs as its own user with no capabilities, a private state folder and umask 077', () => {
    expect(unit.get('User')).toBe('otsentry');
    expect(unit.get('CapabilityBoundingSet')).toBe('');
    expect(unit.get('AmbientCapabilities')).toBe('');
    expect(unit.get('NoNewPrivileges')).toBe('yes');
    expect(unit.get('UMask')).toBe('0077');
    expect(unit.get('StateDirectoryMode')).toBe('0700');
    // Node's JIT does not survive it (see the comment in the unit).
    expect(unit.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('the sample config keeps its state in the StateDirectory and is the file ExecStart reads', () => {
    const sample = parse(fs.readFileSync(SAMPLE, 'utf8')) as { agent: { data_dir: string } };
    expect(sample.agent.data_dir).toBe(`/var/lib/${unit.get('StateDirectory')}`);
    expect(unit.get('ExecStart')).toMatch(/ run --config \/etc\/otsentry\/agent\.yaml$/);
  });

  it('starts node with the flags and environment of agent/node-flags.ts (those the benchmark measures)', () => {
    expect(unit.get('ExecStart')).toBe(`/usr/bin/node ${AGENT_NODE_FLAGS.join(' ')} /opt/otsentry/lib/node_modules/otsentry/dist/agent/cli.js run --config /etc/otsentry/agent.yaml`);
    const env = (unit.get('Environment') ?? '').split(' ');
    for (const [k, v] of Object.entries(AGENT_NODE_ENV)) expect(env).toContain(`${k}=${v}`);
  });

  it('deploy/agent.yaml passes `otsentry validate` with its secrets in place, without warnings', () => {
    // Installed as /etc/otsentry/agent.yaml; its relative broker.pw and ca.crt sit beside it.
    const dir = tempDir('etc');
    const config = path.join(dir, 'agent.yaml');
    fs.copyFileSync(SAMPLE, config);
    fs.chmodSync(config, 0o640);
    fs.writeFileSync(path.join(dir, 'broker.pw'), 'secret\n', { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'ca.crt'), '');
    const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), 'validate', '--config', config], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/valid \(1 device, 3 tags, 3 rules\)/);
    expect(r.stderr).toBe('');
    fs.rmSync(dir, { recursive: true });
  });
});
