// The central systemd unit (deploy/otsentry-central.service): rated 2.0 or better by
// `systemd-analyze security --offline=yes` like the agent's, accepted by `systemd-analyze
// verify`, and consistent with the sample /etc/otsentry/central.yaml, which loads cleanly with its
// secrets beside it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCentralConfig } from '../../agent/central/config/load.js';
import { hashPassword } from '../../agent/central/console/password.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const UNIT = path.join(ROOT, 'deploy/otsentry-central.service');
const SAMPLE = path.join(ROOT, 'deploy/central.yaml');
const MAX_EXPOSURE = 2.0;
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((f) => fs.existsSync(f));

function unitCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-central-unit-'));
  const unit = path.join(dir, 'otsentry-central.service');
  // ExecStart names /usr/bin/node; verify checks that it exists, so point it at this node.
  fs.writeFileSync(unit, fs.readFileSync(UNIT, 'utf8').replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
  return unit;
}

function directives(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

describe(analyze ? `central systemd unit rating (${analyze})` : 'central systemd unit rating: systemd-analyze is not installed here, the rating is NOT checked', () => {
  if (!analyze) {
    it('reports that the rating could not be checked', () => {
      console.warn('systemd-analyze not found: deploy/otsentry-central.service was not rated on this machine.');
      expect(analyze).toBeUndefined();
    });
    return;
  }
  it(`deploy/otsentry-central.service is rated ${MAX_EXPOSURE.toFixed(1)} or lower`, () => {
    const r = spawnSync(analyze, ['security', '--offline=yes', '--no-pager', unitCopy()], { encoding: 'utf8' });
    const text = `${r.stdout}\n${r.stderr}`;
    const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(text);
    expect(m, text).not.toBeNull();
    console.log(`systemd-analyze security --offline=yes deploy/otsentry-central.service: ${m![1]}`);
    expect(Number(m![1]), text).toBeLessThanOrEqual(MAX_EXPOSURE);
  });
  it('systemd-analyze verify accepts the unit', () => {
    const r = spawnSync(analyze, ['verify', unitCopy()], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr.trim()).toBe('');
  });
});

describe('central unit and sample config', () => {
  const unit = directives(UNIT);
  it('runs as otsentry with no capabilities, umask 077, and reads /etc/otsentry/central.yaml', () => {
    expect(unit.get('User')).toBe('otsentry');
    expect(unit.get('CapabilityBoundingSet')).toBe('');
    expect(unit.get('NoNewPrivileges')).toBe('yes');
    expect(unit.get('UMask')).toBe('0077');
    expect(unit.get('ProtectSystem')).toBe('strict');
    expect(unit.get('ExecStart')).toMatch(/ central --config \/etc\/otsentry\/central\.yaml$/);
  });

  it('the sample keeps its store in the StateDirectory and loads with its secrets, TLS files and password hashes in place', async () => {
    const text = fs.readFileSync(SAMPLE, 'utf8');
    const sample = parse(text) as { central: { data_dir: string } };
    expect(sample.central.data_dir).toBe(`/var/lib/${unit.get('StateDirectory')}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-central-etc-'));
    // The console's users carry a placeholder until the operator pastes a hash (a config error until then).
    const hash = await hashPassword('a long enough password', { ln: 10, r: 8, p: 1 });
    fs.writeFileSync(path.join(dir, 'central.yaml'), text.replaceAll("'paste the line `otsentry central hash-password` prints'", `'${hash}'`));
    fs.writeFileSync(path.join(dir, 'broker.pw'), 'secret\n', { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'ca.crt'), '');
    fs.writeFileSync(path.join(dir, 'siem-ca.crt'), '');
    const loaded = loadCentralConfig(path.join(dir, 'central.yaml'));
    expect(loaded.config).toMatchObject({ store: { type: 'sqlite' }, broker: { share_group: 'otsentry-central', protocol_version: 5 }, verify: { require_signed: true } });
    fs.rmSync(dir, { recursive: true });
  });
});
