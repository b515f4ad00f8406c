// Config errors as data: each case under cases/ lists the `path: message` lines it must produce.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText } from '../../agent/config/load.js';

const casesDir = path.join(import.meta.dirname, 'cases');
const cases = fs.readdirSync(casesDir).filter((f) => f.endsWith('.yaml'));

function expectations(file: string): { path: string; message: string }[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('# expect: '))
    .map((l) => {
      const body = l.slice('# expect: '.length);
      const at = body.indexOf(': ');
      return { path: body.slice(0, at), message: body.slice(at + 2).trim() };
    });
}

describe('bad configs are answered with every problem as path: message', () => {
  it.each(cases)('%s', (name) => {
    const file = path.join(casesDir, name);
    const want = expectations(file);
    expect(want.length).toBeGreaterThan(0);
    let err: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    for (const w of want) {
      const hit = problems.find((p) => (w.path.startsWith('line ') ? p.path.startsWith(w.path) : p.path === w.path) && p.message.includes(w.message));
      expect(hit, `expected "${w.path}: ${w.message}" among:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`).toBeDefined();
    }
  });
});

describe('config loading', () => {
  it('names the file and the fix when the file does not exist', () => {
    expect(() => loadConfig('/nonexistent/agent.yaml')).toThrow(/file not found; check the path given to --config/);
  });

  it('applies defaults and resolves data_dir against the config folder', () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'otsentry-cfg-'));
    const file = path.join(dir, 'agent.yaml');
    fs.writeFileSync(
      file,
      `agent: { id: gw-1, site: plant-a, data_dir: state }\nbroker: { url: "mqtt://127.0.0.1:1883" }\ndevices:\n  - id: plc-1\n    protocol: modbus\n    transport: { type: tcp, host: 127.0.0.1 }\n    tags: [{ name: level, area: holding_register, address: 0, type: float32 }]\n`,
    );
    const loaded = loadConfig(file);
    expect(loaded.dataDir).toBe(path.join(dir, 'state'));
    const d = loaded.config.devices[0];
    expect(d.protocol === 'modbus' && d.transport.type === 'tcp' && d.transport.port).toBe(502);
    expect(d.interval_ms).toBe(1000);
    expect(loaded.config.broker.topic_prefix).toBe('otsentry');
    fs.rmSync(dir, { recursive: true });
  });

  it('reads a secret from a file and never keeps it in the config object', () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'otsentry-cfg-'));
    fs.writeFileSync(path.join(dir, 'pw'), 's3cret\n', { mode: 0o600 });
    const file = path.join(dir, 'agent.yaml');
    fs.writeFileSync(
      file,
      `agent: { id: gw-1, site: plant-a }\nbroker: { url: "mqtt://127.0.0.1:1883", username: u, password: { file: pw } }\ndevices:\n  - id: plc-1\n    protocol: modbus\n    transport: { type: tcp, host: 127.0.0.1 }\n    tags: [{ name: level, area: holding_register, address: 0 }]\n`,
    );
    const loaded = loadConfig(file);
    expect(JSON.stringify(loaded.config)).not.toContain('s3cret');
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects a document that is not a mapping', () => {
    expect(parseConfigText('- just\n- a list\n').problems[0].message).toMatch(/must be a YAML mapping/);
  });
});

describe('JSON configs', () => {
  const yamlText = `agent: { id: gw-1, site: plant-a }\nbroker: { url: "mqtt://127.0.0.1:1883" }\ndevices:\n  - id: plc-1\n    protocol: modbus\n    transport: { type: tcp, host: 127.0.0.1 }\n    tags: [{ name: level, area: holding_register, address: 0, type: float32 }]\n`;
  const jsonText = JSON.stringify({ agent: { id: 'gw-1', site: 'plant-a' }, broker: { url: 'mqtt://127.0.0.1:1883' }, devices: [{ id: 'plc-1', protocol: 'modbus', transport: { type: 'tcp', host: '127.0.0.1' }, tags: [{ name: 'level', area: 'holding_register', address: 0, type: 'float32' }] }] });

  it('a JSON config gives the same result as the same config in YAML', () => {
    expect(parseConfigText(jsonText).config).toEqual(parseConfigText(yamlText).config);
  });

  it('broken JSON is answered with the line and column', () => {
    expect(parseConfigText('{ "agent": { "id": "gw-1" }\n').problems[0].path).toMatch(/^line \d+, column \d+$/);
  });
});
