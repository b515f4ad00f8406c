// Tests of the Modbus device schema: defaults, cross-field checks, and that the sample config parses.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { deviceSchema } from '../../../agent/config/schema.js';
import { modbusDeviceSchema } from '../../../protocols/modbus/config.js';

const base = { id: 'plc1', protocol: 'modbus', transport: { type: 'tcp', host: '127.0.0.1' } };

function problems(device: object): string[] {
  const r = modbusDeviceSchema.safeParse(device);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('modbusDeviceSchema', () => {
  it('fills defaults', () => {
    const d = modbusDeviceSchema.parse({ ...base, tags: [{ name: 'a', area: 'holding_register', address: 0 }] });
    expect(d.transport).toEqual({ type: 'tcp', host: '127.0.0.1', port: 502, client: 'native' });
    expect(d).toMatchObject({ unit_id: 1, timeout_ms: 1000, retries: 1, max_registers_per_read: 125, max_gap_registers: 0, max_gap_bits: 0 });
    expect(d.tags[0]).toMatchObject({ scale: 1, offset: 0 });
  });

  it('reports every cross-field problem at once, each at its place', () => {
    const got = problems({
      ...base,
      reconnect_min_ms: 5000,
      reconnect_max_ms: 1000,
      tags: [
        { name: 'a', area: 'holding_register', address: 65535, type: 'float32' },
        { name: 'a', area: 'coil', address: 0, type: 'int16' },
        { name: 'b', area: 'holding_register', address: 0, type: 'bool' },
        { name: 'c', area: 'input_register', address: 0, type: 'uint16', word_order: 'little' },
        { name: 'd', area: 'discrete_input', address: 0, bit: 1 },
        { name: 'e', area: 'holding_register', address: 0, type: 'int16', bit: 2 },
      ],
    });
    expect(got).toEqual([
      'tags.0.address: a float32 needs two registers: the address must be at most 65534',
      'tags.1.name: duplicate tag name "a" (also tags[0])',
      'tags.1.type: a coil holds one bit: use type bool or leave type out',
      'tags.2.bit: a bool from a register needs bit (0..15)',
      'tags.3.word_order: word_order applies only to 32-bit types (int32, uint32, float32)',
      'tags.4.bit: bit selects a bit of a register; a discrete_input is already one bit',
      'tags.5.type: a tag with bit is a bool: use type bool or leave type out',
      'reconnect_min_ms: must not exceed reconnect_max_ms',
    ]);
  });

  it('refuses a 32-bit tag when reads are one register long', () => {
    expect(problems({ ...base, max_registers_per_read: 1, tags: [{ name: 'a', area: 'holding_register', address: 0, type: 'int32' }] })).toEqual([
      'tags.0.type: a int32 needs 2 registers but max_registers_per_read is 1',
    ]);
  });

  it('still works inside the agent config union', () => {
    const d = deviceSchema.parse({ ...base, transport: { type: 'rtu_over_tcp', host: 'gw', port: 4001 }, tags: [{ name: 'a', area: 'coil', address: 3 }] });
    expect(d.protocol).toBe('modbus');
    expect(deviceSchema.safeParse({ ...base, tags: [{ name: 'a', area: 'coil', address: 3, type: 'float32' }] }).success).toBe(false);
  });
});

describe('sample config', () => {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../protocols/modbus/sample.yaml');
  it('every Modbus device in protocols/modbus/sample.yaml parses', () => {
    const doc = parseYaml(fs.readFileSync(file, 'utf8')) as unknown;
    const devices: unknown[] = Array.isArray(doc)
      ? doc
      : doc && typeof doc === 'object' && 'devices' in doc
        ? ((doc as { devices: unknown[] }).devices ?? [])
        : [doc];
    const modbus = devices.filter((d) => (d as { protocol?: string }).protocol === 'modbus');
    expect(modbus.length).toBeGreaterThan(0);
    for (const d of modbus) {
      const r = modbusDeviceSchema.safeParse(d);
      expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
    }
  });
});
