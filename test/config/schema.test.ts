// The JSON Schemas: `otsentry schema config|signal|central` prints what zod's toJSONSchema makes
// of the zod schemas; the copies in deploy/schemas (which the sample configs' yaml-language-server
// lines point at) are exactly that output; every sample config passes its schema under ajv, and
// a typo does not.
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { jsonSchema, SCHEMA_NAMES, type SchemaName } from '../../agent/cli/schema.js';
import { SimAgent } from '../../bench/central/simagent.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FILE: Record<SchemaName, string> = { config: 'agent', central: 'central', signal: 'signal' };
const SAMPLES: Array<[string, SchemaName]> = [
  ['protocols/modbus/sample.yaml', 'config'],
  ['protocols/opcua/sample.yaml', 'config'],
  ['deploy/agent.yaml', 'config'],
  ['deploy/central.yaml', 'central'],
];

const compile = (name: SchemaName) => new Ajv2020({ strict: false }).compile(jsonSchema(name));

describe('JSON Schemas from the zod schemas', () => {
  it.each(SCHEMA_NAMES)('deploy/schemas holds the generated %s schema (regenerate: otsentry schema NAME > deploy/schemas/FILE)', (name) => {
    const committed = fs.readFileSync(path.join(ROOT, 'deploy/schemas', `${FILE[name]}.schema.json`), 'utf8');
    expect(JSON.parse(committed)).toEqual(jsonSchema(name));
  });

  it.each(SAMPLES)('%s names its schema and passes it', (file, name) => {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const line = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
    expect(line, 'a yaml-language-server line').not.toBeNull();
    expect(path.resolve(path.dirname(path.join(ROOT, file)), line![1]!)).toBe(path.join(ROOT, 'deploy/schemas', `${FILE[name]}.schema.json`));
    const validate = compile(name);
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('a misspelt key fails the central schema', () => {
    const raw = parse(fs.readFileSync(path.join(ROOT, 'deploy/central.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    raw.verify!.gap_grace_sec = 5;
    expect(compile('central')(raw)).toBe(false);
  });

  it('signals as the outbox seals them pass the signal schema; one without hash does not', () => {
    const validate = compile('signal');
    const a = new SimAgent('plant-a', 'gw-1');
    for (const s of a.take(20)) expect(validate(JSON.parse(s.payload)), JSON.stringify(validate.errors)).toBe(true);
    const { hash: _hash, ...rest } = a.next().signal;
    expect(validate(rest)).toBe(false);
  });
});
