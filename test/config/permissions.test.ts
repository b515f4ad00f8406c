// Unsafe files and settings, on real files with real modes: secret files open to group or others
// are refused, config and rules files writable by them are warned about, each with the chmod that
// fixes it; plain MQTT to another host and unchecked broker certificates are warned about.
// (Tests run as root, who can read any file: the rules judge mode bits, never readability.)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../agent/config/load.js';
import { privateDirProblem, secretFileProblem, writableFileProblem } from '../../agent/config/permissions.js';
import { brokerWarnings, rulesFileWarnings } from '../../agent/config/warnings.js';
import type { BrokerConfig } from '../../agent/config/schema.js';
import { distEntry } from '../helpers/broker.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-perm-'));
  dirs.push(d);
  return d;
}

/** A file with exactly this mode, whatever the umask. */
function fileWithMode(dir: string, name: string, text: string, mode: number): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  fs.chmodSync(f, mode);
  return f;
}

const DEVICE = `devices:\n  - id: plc-1\n    protocol: modbus\n    transport: { type: tcp, host: 127.0.0.1 }\n    tags: [{ name: level, area: holding_register, address: 0 }]\n`;

function configWith(dir: string, broker: string, mode = 0o600, extra = ''): string {
  return fileWithMode(dir, 'agent.yaml', `agent: { id: gw-1, site: plant-a }\nbroker: ${broker}\n${DEVICE}${extra}`, mode);
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('secret files', () => {
  it.each([
    [0o644, 'group and others', 600],
    [0o640, 'its group', 600],
    [0o604, 'others', 600],
    [0o440, 'its group', 400],
  ])('a broker password file with mode %s is refused, naming the file and the chmod', (mode, who, fix) => {
    const dir = tempDir();
    const pw = fileWithMode(dir, 'broker.pw', 'hunter2\n', mode);
    const problems = problemsOf(() => loadConfig(configWith(dir, '{ url: "mqtts://127.0.0.1:8883", username: u, password: { file: broker.pw } }')));
    expect(problems).toEqual([`broker.password: secret file ${pw} can be accessed by ${who} (mode ${mode.toString(8)}); run chmod ${fix} ${pw}`]);
  });

  it.each([0o600, 0o400])('a broker password file with mode %s is accepted', (mode) => {
    const dir = tempDir();
    fileWithMode(dir, 'broker.pw', 'hunter2\n', mode);
    expect(problemsOf(() => loadConfig(configWith(dir, '{ url: "mqtts://127.0.0.1:8883", username: u, password: { file: broker.pw } }')))).toEqual([]);
  });

  it('a TLS key file and a key passphrase file readable by others are refused', () => {
    const dir = tempDir();
    fileWithMode(dir, 'ca.crt', 'ca', 0o644);
    fileWithMode(dir, 'gw.crt', 'cert', 0o644);
    const key = fileWithMode(dir, 'gw.key', 'key', 0o644);
    const pass = fileWithMode(dir, 'key.pass', 'pass', 0o664);
    const problems = problemsOf(() => loadConfig(configWith(dir, '{ url: "mqtts://127.0.0.1:8883", tls: { ca_file: ca.crt, cert_file: gw.crt, key_file: gw.key, key_passphrase: { file: key.pass } } }')));
    expect(problems).toEqual(
      expect.arrayContaining([
        `broker.tls.key_passphrase: secret file ${pass} can be accessed by group and others (mode 664); run chmod 600 ${pass}`,
        `broker.tls.key_file: secret file ${key} can be accessed by group and others (mode 644); run chmod 600 ${key}`,
      ]),
    );
    // Certificates are public: their modes are not judged.
    expect(problems).toHaveLength(2);
  });

  it('an OPC UA password file readable by its group is refused', () => {
    const dir = tempDir();
    const pw = fileWithMode(dir, 'ua.pw', 'pw', 0o640);
    const ua = `  - id: ua-1\n    protocol: opcua\n    endpoint_url: opc.tcp://127.0.0.1:4840\n    auth: { type: username, username: otsentry, password: { file: ua.pw } }\n    tags: [{ name: level, node_id: "ns=1;s=level" }]\n`;
    const problems = problemsOf(() => loadConfig(configWith(dir, '{ url: "mqtts://127.0.0.1:8883" }', 0o600, ua)));
    expect(problems).toEqual([`devices[1].auth.password: secret file ${pw} can be accessed by its group (mode 640); run chmod 600 ${pw}`]);
  });

  it('the check judges mode bits only: root, who reads any file, is still refused', () => {
    const dir = tempDir();
    const pw = fileWithMode(dir, 'pw', 'x', 0o644);
    expect(fs.readFileSync(pw, 'utf8')).toBe('x');
    expect(secretFileProblem(pw)).toMatch(/run chmod 600 /);
  });
});

describe('config and rules files writable by others', () => {
  it.each([
    [0o664, 'its group', 644],
    [0o646, 'others', 644],
    [0o666, 'group and others', 644],
    [0o660, 'its group', 640],
  ])('a config file with mode %s loads with a warning naming the chmod', (mode, who, fix) => {
    const dir = tempDir();
    const file = configWith(dir, '{ url: "mqtt://127.0.0.1:1883" }', mode);
    expect(loadConfig(file).warnings).toEqual([{ path: '(file)', message: `config file ${file} is writable by ${who} (mode ${mode.toString(8)}), who could change what the agent does; run chmod ${fix} ${file}` }]);
  });

  it.each([0o644, 0o640, 0o600])('a config file with mode %s loads without warnings', (mode) => {
    const dir = tempDir();
    expect(loadConfig(configWith(dir, '{ url: "mqtt://127.0.0.1:1883" }', mode)).warnings).toEqual([]);
  });

  it('a rules file writable by others is warned about', () => {
    const dir = tempDir();
    const rules = fileWithMode(dir, 'rules.yaml', 'rules: []\n', 0o666);
    const safe = fileWithMode(dir, 'safe.yaml', 'rules: []\n', 0o644);
    expect(rulesFileWarnings([rules, safe]).map((w) => `${w.path}: ${w.message}`)).toEqual([`--rules ${rules}: rules file ${rules} is writable by group and others (mode 666), who could change what the agent does; run chmod 644 ${rules}`]);
  });

  it('`otsentry validate` exits 0 and prints the warnings on stderr', () => {
    const dir = tempDir();
    const file = configWith(dir, '{ url: "mqtt://10.1.2.3:1883" }', 0o664);
    const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), 'validate', '--config', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`warning: (file): config file ${file} is writable by its group (mode 664), who could change what the agent does; run chmod 644 ${file}\n`);
    expect(r.stderr).toContain('warning: broker.url: mqtt:// to 10.1.2.3 is not encrypted');
  });

  it('a folder open to others is named with chmod 700', () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    expect(privateDirProblem(dir)).toBe(`folder ${dir} can be accessed by group and others (mode 755); run chmod 700 ${dir}`);
    fs.chmodSync(dir, 0o700);
    expect(privateDirProblem(dir)).toBeUndefined();
    expect(writableFileProblem(path.join(dir, 'missing'))).toBeUndefined();
  });
});

describe('insecure broker settings', () => {
  const broker = (url: string, tls?: Partial<NonNullable<BrokerConfig['tls']>>) => ({ url, ...(tls ? { tls: { reject_unauthorized: true, ...tls } } : {}) }) as BrokerConfig;

  it.each(['mqtt://10.0.0.5:1883', 'tcp://broker.example.net', 'ws://broker.example.net:8080/mqtt', 'mqtt://[fd00::5]:1883'])('%s (plain, another host) is warned about', (url) => {
    const [w] = brokerWarnings(broker(url));
    expect(w.path).toBe('broker.url');
    expect(w.message).toMatch(/is not encrypted: .* use mqtts:\/\/ \(or wss:\/\/\) with broker\.tls$/);
  });

  it.each(['mqtt://127.0.0.1:1883', 'mqtt://localhost:1883', 'mqtt://[::1]:1883', 'mqtt://127.0.1.1', 'mqtts://10.0.0.5:8883', 'wss://broker.example.net/mqtt'])('%s is not', (url) => {
    expect(brokerWarnings(broker(url))).toEqual([]);
  });

  it('reject_unauthorized: false is warned about', () => {
    expect(brokerWarnings(broker('mqtts://10.0.0.5:8883', { reject_unauthorized: false }))).toEqual([
      { path: 'broker.tls.reject_unauthorized', message: 'false: the broker certificate is not checked, so anyone on the path can pose as the broker; set it to true and give broker.tls.ca_file' },
    ]);
  });

  it('a password in the URL is a config error that does not repeat the password', () => {
    const dir = tempDir();
    const problems = problemsOf(() => loadConfig(configWith(dir, '{ url: "mqtt://agent:hunter2@10.0.0.5:1883" }')));
    expect(problems).toEqual(['broker.url: do not put the password in the URL; remove user:password@ and set broker.username and broker.password: { env: NAME } or { file: PATH }']);
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});
