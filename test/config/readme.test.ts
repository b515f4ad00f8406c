// The configuration example in README.md is a valid config (keeps the README true).
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { parseConfigText } from '../../agent/config/load.js';

it('the README configuration example passes validation', () => {
  const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const block = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  const { problems, config } = parseConfigText(block!);
  expect(problems).toEqual([]);
  expect(config!.devices.map((d) => d.protocol)).toEqual(['modbus', 'opcua']);
});
