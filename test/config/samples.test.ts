// Every sample config shipped in the repo is valid.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config/load.js';
import { loadSimulatorConfig } from '../../simulators/modbus/config.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const agentSamples = fs.readdirSync(path.join(ROOT, 'protocols')).map((p) => path.join(ROOT, 'protocols', p, 'sample.yaml')).filter((f) => fs.existsSync(f));

describe('sample configs', () => {
  it('there is at least the Modbus sample', () => {
    expect(agentSamples.map((f) => path.relative(ROOT, f))).toContain('protocols/modbus/sample.yaml');
  });

  it.each(agentSamples.map((f) => [path.relative(ROOT, f), f]))('%s is a valid agent config', (_rel, file) => {
    const loaded = loadConfig(file);
    expect(loaded.config.devices.length).toBeGreaterThan(0);
  });

  it('simulators/modbus/sample.yaml is a valid simulator config', () => {
    expect(loadSimulatorConfig(path.join(ROOT, 'simulators/modbus/sample.yaml')).plcs.length).toBeGreaterThan(0);
  });
});
