// Recording: the running agent hands every judged poll cycle to its onCycle hook (`run --record`),
// the JSONL it writes replays the same way; rules files merge into a config with their problems
// named by file (`run/validate/replay --rules`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../agent/config/load.js';
import { silentLogger } from '../../protocols/log.js';
import { copySample } from '../../protocols/types.js';
import { RecordingWriter } from '../../agent/record/record.js';
import { runAgent } from '../../agent/runtime.js';
import type { CycleOutput } from '../../agent/scheduler.js';
import { mergeRuleFiles } from '../../rules/learn/rulesfile.js';
import { openRecording } from '../../rules/recording/recording.js';
import { Replay } from '../../rules/replay/run.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { until, writeAgentConfig } from '../e2e/harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-record-'));
let sim: ModbusSimulator | undefined;
afterAll(async () => sim?.stop());

describe('recording the running agent', () => {
  it('onCycle sees every judged cycle; the recording replays with the same findings', async () => {
    sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
    const plc = sim.plcs[0];
    const rules = [{ id: 'mode', type: 'allowed_values', device: plc.id, tag: 'mode', values: [0] }];
    const file = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1', plcs: [plc], rules, device: { interval_ms: 200, diagnostics_interval_ms: 400 } });
    const loaded = loadConfig(file);
    const rec = path.join(dir, 'live.jsonl');
    const writer = new RecordingWriter(rec, loaded.config.devices);
    const cycles: CycleOutput[] = [];
    const agent = await runAgent(loaded, { logger: silentLogger, onCycle: (out) => (cycles.push({ ...out, samples: out.samples.map(copySample) }), writer.writeCycle(out)) });
    try {
      await until(() => cycles.length >= 8, 10_000, 'eight poll cycles');
    } finally {
      await agent.stop();
      writer.close();
    }
    expect(writer.stats.cycles).toBe(cycles.length);
    expect(cycles.every((c) => c.facts.some((f) => f.kind === 'link'))).toBe(true);
    const recording = await openRecording(rec);
    expect(recording.devices).toEqual([{ id: plc.id, tags: loaded.config.devices[0].tags.map((t) => ({ name: t.name })) }]);
    const raised: string[] = [];
    const s = await new Replay({ rules, devices: recording.devices, onFinding: (f) => void (f.active && raised.push(f.rule)) }).run(recording.events());
    expect(s.cycles).toBe(cycles.length);
    expect(s.samples).toBe(cycles.reduce((n, c) => n + c.samples.length, 0));
    expect(raised).toEqual(['mode']); // the tank runs in mode 1 (auto): raised once, never cleared
  });
});

describe('rules files', () => {
  const devices = [{ id: 'd', tags: [{ name: 'a' }, { name: 'b' }] }];
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('adds the rules of each file after the config\'s', () => {
    const f = write('ok.yaml', 'rules:\n  - { id: r2, type: range, device: d, tag: b, max: 1 }\n');
    expect(mergeRuleFiles([{ id: 'r1', type: 'range', device: 'd', tag: 'a', min: 0 }], [f], devices)).toHaveLength(2);
  });

  it('names the file and its own rule index of every problem', () => {
    const a = write('a.yaml', 'rules:\n  - { id: r1, type: range, device: d, tag: b, max: 1 }\n  - { id: x, type: range, device: d, tag: c, max: 1 }\n');
    try {
      mergeRuleFiles([{ id: 'r1', type: 'range', device: 'd', tag: 'a', min: 0 }], [a], devices, 'agent.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems).toEqual([
        { path: `${a}: rules[0].id`, message: "duplicate rule id 'r1' (first used by rules[0])" },
        { path: `${a}: rules[1].tag`, message: "unknown tag 'c' on device 'd'; known tags: a, b" },
      ]);
    }
    expect(() => mergeRuleFiles([], [write('bad.yaml', 'rules: 3\n')], devices)).toThrow(/a rules file holds a `rules:` list/);
    expect(() => mergeRuleFiles([], [path.join(dir, 'none.yaml')], devices)).toThrow(ConfigError);
  });
});
