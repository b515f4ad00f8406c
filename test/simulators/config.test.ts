// Simulator config: the sample parses, every problem is reported as a `path: message` line; the
// sample agent config for the tank PLC validates and lists every tag of the register map.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../agent/config/schema.js';
import { parseConfigText } from '../../agent/config/load.js';
import { loadSimulatorConfig, parseSimulatorConfig, SimulatorConfigError } from '../../simulators/modbus/config.js';
import { tankTags } from '../../simulators/modbus/models/tank.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function problems(raw: unknown): string[] {
  try {
    parseSimulatorConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SimulatorConfigError);
    return (e as SimulatorConfigError).issues;
  }
  throw new Error('config was accepted');
}

describe('simulator config', () => {
  it('parses the sample with its defaults', () => {
    const cfg = loadSimulatorConfig(path.join(ROOT, 'simulators/modbus/sample.yaml'));
    expect(cfg.plcs.map((p) => [p.id, p.port, p.framing, p.model.type])).toEqual([
      ['tank-plc-1', 5020, 'tcp', 'tank'],
      ['tank-plc-2', 5021, 'rtu_over_tcp', 'tank'],
      ['bench-plc-1', 5030, 'tcp', 'bench'],
    ]);
    expect(cfg.plcs[1]).toMatchObject({ host: '127.0.0.1', tick_ms: 100, response_delay_ms: 0, max_connections: 16 });
    expect(cfg.scenarios[1]).toMatchObject({ name: 'setpoint-tamper', at: 180, duration: 120 });
    // a parsed config parses again to itself
    expect(parseSimulatorConfig(cfg)).toEqual(cfg);
  });

  it('reports every problem at once, one path: message line each', () => {
    const lines = problems({
      plcs: [
        { id: 'a', port: 70000, framing: 'udp', model: { type: 'tanks' }, tick_ms: 1, colour: 'red' },
        { id: 'b', port: 5020, unit_id: 0, model: { type: 'bench', registers: 0 } },
        { id: 'b', port: 5020, identity: { vendor_name: 'x'.repeat(300) } },
      ],
      scenarios: [
        { name: 'sensor-melt', plc: 'a' },
        { name: 'malformed', plc: 'zz', at: '5 minutes', params: { share: 2, colour: 1 } },
        { name: 'pump-toggle', plc: 'b', duration: -1 },
      ],
    });
    const expected = [
      /^plcs\[0\]\.port: /,
      /^plcs\[0\]\.framing: .*tcp/,
      /^plcs\[0\]\.model\.type: .*tank/,
      /^plcs\[0\]\.tick_ms: /,
      /^plcs\[0\]\.colour: unknown key 'colour'/,
      /^plcs\[1\]\.unit_id: /,
      /^plcs\[1\]\.model\.registers: /,
      /^plcs\[2\]\.identity\.vendor_name: at most 244/,
      /^plcs\[2\]\.id: duplicate id b/,
      /^plcs\[2\]\.port: 127\.0\.0\.1:5020 is already used by plcs\[1\]/,
      /^scenarios\[0\]\.name: unknown scenario sensor-melt; known: setpoint-tamper, /,
      /^scenarios\[1\]\.at: "5 minutes" is not a duration; use a number of seconds or e\.g\. 500ms/,
      /^scenarios\[2\]\.duration: /,
    ];
    for (const re of expected) expect(lines.some((l) => re.test(l)), `${re} in\n${lines.join('\n')}`).toBe(true);
  });

  it('checks scenario targets and params once the PLCs are valid', () => {
    const lines = problems({
      plcs: [{ id: 'bench', model: 'bench' }],
      scenarios: [
        { name: 'malformed', plc: 'zz', params: { share: 2, colour: 1 } },
        { name: 'pump-toggle', plc: 'bench' },
      ],
    });
    expect(lines).toEqual([
      'scenarios[0].plc: no PLC with id zz; ids: bench',
      expect.stringMatching(/^scenarios\[0\]\.params\.share: /),
      expect.stringMatching(/^scenarios\[0\]\.params\.colour: unknown key 'colour'/),
      'scenarios[1].name: pump-toggle needs a tank PLC; bench is a bench',
    ]);
  });

  it('needs at least one PLC and names a YAML syntax error by line', () => {
    expect(problems({ plcs: [] })).toEqual(['plcs: list at least one PLC']);
    expect(problems({})).toEqual([expect.stringMatching(/^plcs: /)]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-simcfg-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'plcs:\n  - id: a\n    port: [1, 2\n');
    expect(() => loadSimulatorConfig(file)).toThrow(/bad\.yaml has 1 problem:\nline \d+, column \d+: /);
    expect(() => loadSimulatorConfig(path.join(dir, 'missing.yaml'))).toThrow(/cannot read \(ENOENT\); check the path/);
  });
});

describe('sample agent config (protocols/modbus/sample.yaml)', () => {
  const text = fs.readFileSync(path.join(ROOT, 'protocols/modbus/sample.yaml'), 'utf8');

  it('validates with the agent config schema and its cross-field checks', () => {
    const r = configSchema.safeParse(parse(text));
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
    expect(parseConfigText(text, 'sample.yaml').problems).toEqual([]);
    expect(r.data!.broker.url).toBe('mqtt://127.0.0.1:1883');
    expect(Array.isArray(r.data!.rules)).toBe(true);
  });

  it('lists every tag of the tank register map with the same area, address, type and scale', () => {
    const dev = configSchema.parse(parse(text)).devices[0];
    if (dev.protocol !== 'modbus') throw new Error('the Modbus sample config must start with a Modbus device');
    expect(dev).toMatchObject({ id: 'tank-plc-1', unit_id: 1, transport: { type: 'tcp', host: '127.0.0.1', port: 5020 } });
    const agentTags = dev.tags.map((t) => ({ name: t.name, area: t.area, address: t.address, type: t.type ?? 'bool', scale: t.scale, word_order: t.word_order ?? 'big' }));
    const simTags = tankTags('big').map((t) => ({ name: t.name, area: t.area, address: t.address, type: t.type, scale: t.scale ?? 1, word_order: t.word_order ?? 'big' }));
    expect(agentTags).toEqual(simTags);
  });
});
