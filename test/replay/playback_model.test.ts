// The playback process model without sockets: register map from a recording's columns, rows
// applied on the recording's timeline sped up, JSONL recordings, looping, and bad files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../protocols/log.js';
import { parseSimulatorConfig } from '../../simulators/modbus/config.js';
import { Plc } from '../../simulators/modbus/plc.js';
import { loadPlayback, playbackTags } from '../../simulators/modbus/playback.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-pbm-'));
const csv = path.join(dir, 'p.csv');
fs.writeFileSync(csv, 'time,flow,pump,note\n2025-03-01T08:00:00Z,1.5,1,a\n2025-03-01T08:00:10Z,2.5,0,b\n2025-03-01T08:00:20Z,,1,c\n');

function plc(model: Record<string, unknown>): Plc {
  const cfg = parseSimulatorConfig({ plcs: [{ id: 'p', model }] });
  return new Plc(cfg.plcs[0], silentLogger);
}

describe('playback model', () => {
  it('maps 0/1 columns to coils and the rest to float32 holding registers, in column order', () => {
    const data = loadPlayback({ file: csv, ignore: ['note'] });
    expect(data.tags).toEqual(['flow', 'pump']);
    expect(playbackTags(data)).toEqual([
      { name: 'flow', area: 'holding_register', address: 0, type: 'float32', description: 'flow from the recording', live: true },
      { name: 'pump', area: 'coil', address: 0, type: 'bool', description: 'pump from the recording' },
    ]);
  });

  it('plays rows on the recording timeline, sped up; empty cells keep the last value; loops', () => {
    const p = plc({ type: 'playback', file: csv, speed: 10, ignore: ['note'], loop: true });
    expect([p.readTag('flow'), p.readTag('pump')]).toEqual([1.5, 1]);
    p.step(900); // 9 s of recording time
    expect(p.readTag('flow')).toBe(1.5);
    p.step(100);
    expect([p.readTag('flow'), p.readTag('pump')]).toEqual([2.5, 0]);
    p.step(1000);
    expect([p.readTag('flow'), p.readTag('pump')]).toEqual([2.5, 1]);
    p.step(1000); // one period (20 s + one row interval) later it starts over
    expect([p.readTag('flow'), p.readTag('pump')]).toEqual([1.5, 1]);
  });

  it('plays a JSONL recording (one row per timestamp of a device)', () => {
    const f = path.join(dir, 'r.jsonl');
    const s = (tag: string, value: unknown, ts: number) => JSON.stringify({ type: 'sample', device: 'd', tag, value, quality: 'good', ts });
    fs.writeFileSync(f, [JSON.stringify({ type: 'header', v: 1, devices: [] }), s('t', 20.5, 1000), s('on', true, 1000), s('t', 21.5, 2000), s('on', false, 2000)].join('\n'));
    const p = plc({ type: 'playback', file: f });
    expect([p.readTag('t'), p.readTag('on')]).toEqual([20.5, 1]);
    p.step(1000);
    expect([p.readTag('t'), p.readTag('on')]).toEqual([21.5, 0]);
  });

  it('names the line and the problem of a bad recording', () => {
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, 'time,flow\n2025-03-01T08:00:10Z,1\n2025-03-01T08:00:00Z,2\n');
    expect(() => plc({ type: 'playback', file: bad })).toThrow(`${bad}:3: time goes back; sort the file by time`);
    fs.writeFileSync(bad, 'time,flow\n2025-03-01T08:00:10Z,lots\n');
    expect(() => plc({ type: 'playback', file: bad })).toThrow(`${bad}:2: column 'flow': 'lots' is not a number`);
    expect(() => plc({ type: 'playback', file: path.join(dir, 'none.csv') })).toThrow(/none\.csv: cannot read it \(ENOENT\)/);
  });
});
