// Live replay through the real polling path: the Modbus simulator plays a day of BATADAL (hourly
// rows, one every 250 ms) into a PLC's registers; `otsentry record` polls it; the recording holds
// the dataset's values in order, and replaying it with a baseline learned on the normal year
// raises within hours (rows) of the attack (PU7 slowed, from 17:00) being on the wire, not before.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { Learner } from '../../rules/learn/learner.js';
import { openRecording, type CsvOptions } from '../../rules/recording/recording.js';
import { Replay } from '../../rules/replay/run.js';
import { startModbusSimulator, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { loadPlayback, playbackTags, type PlaybackModel } from '../../simulators/modbus/playback.js';
import { until } from '../e2e/harness.js';
import { distEntry } from '../helpers/broker.js';
import { freePort } from '../helpers/ports.js';

const DATA = process.env.OTSENTRY_DATA ? path.resolve(process.env.OTSENTRY_DATA) : path.resolve(import.meta.dirname, '../../../shared/data');
const DIR = path.join(DATA, 'batadal');
const present = fs.existsSync(path.join(DIR, 'BATADAL_dataset03.csv.gz')) && fs.existsSync(path.join(DIR, 'BATADAL_dataset04.csv.gz'));
if (!present) console.info(`BATADAL playback test skipped: no ${DIR}/BATADAL_dataset0{3,4}.csv.gz (set OTSENTRY_DATA to the public data folder)`);

const ROW_MS = 250;
const CSV: CsvOptions = { device: 'ctown', timeColumn: 'DATETIME', timeFormat: 'DD/MM/YY hh', labels: 'ATT_FLAG' };
/** Rules that do not depend on the time between polls (rates, stuck limits and lagged models do). */
const TIME_FREE = new Set(['range', 'allowed_values', 'integrity', 'expression']);
let sim: ModbusSimulator | undefined;
afterAll(async () => sim?.stop());

describe.skipIf(!present)('playback of a BATADAL day through the simulator', () => {
  it('the agent polls the dataset in order and the learned baseline raises at the attack', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-playback-'));
    const lines = zlib.gunzipSync(fs.readFileSync(path.join(DIR, 'BATADAL_dataset04.csv.gz'))).toString().split('\n');
    const start = lines.findIndex((l) => l.startsWith('26/11/16 10'));
    const slice = path.join(dir, 'slice.csv');
    fs.writeFileSync(slice, [lines[0], ...lines.slice(start, start + 24)].join('\n') + '\n');
    const params = { file: slice, time_format: 'DD/MM/YY hh', ignore: ['ATT_FLAG'] };
    const data = loadPlayback(params);
    const tags = playbackTags(data);
    expect(tags.find((t) => t.name === 'L_T1')).toMatchObject({ area: 'holding_register', type: 'float32' });
    expect(tags.find((t) => t.name === 'S_PU7')).toMatchObject({ area: 'coil', type: 'bool' });

    const port = await freePort();
    const config = path.join(dir, 'agent.yaml');
    fs.writeFileSync(
      config,
      stringify({
        agent: { id: 'gw-playback', site: 'lab', data_dir: path.join(dir, 'data') },
        broker: { url: 'mqtt://127.0.0.1:1' },
        devices: [{ id: 'ctown', protocol: 'modbus', transport: { type: 'tcp', host: '127.0.0.1', port }, interval_ms: 100, timeout_ms: 40, identity_interval_ms: 0, diagnostics_interval_ms: 0, reconnect_min_ms: 50, reconnect_max_ms: 100, degraded_interval_ms: 100, tags: tags.map(({ name, area, address, type }) => ({ name, area, address, type })) }],
      }),
    );
    const rec = path.join(dir, 'rec.jsonl');
    const agent = spawn(process.execPath, [distEntry('agent/cli.js'), 'record', '--config', config, '--out', rec], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    agent.stdout.on('data', (b: Buffer) => (output += b.toString()));
    agent.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((r) => agent.on('exit', r));
    // Learn while the agent starts; the PLC (and its playback) start once the agent is polling.
    const train = await openRecording(path.join(DIR, 'BATADAL_dataset03.csv.gz'), CSV);
    const learned = await new Learner(train.devices).run(train.events());
    sim = await startModbusSimulator({ plcs: [{ id: 'ctown', port, tick_ms: 10, model: { type: 'playback', speed: 3_600_000 / ROW_MS, ...params } }] });
    const model = sim.plc('ctown').model as PlaybackModel;
    await until(() => model.position().row === data.rows.length - 1, 20_000, 'the playback reaching its last row');
    await new Promise((r) => setTimeout(r, 3 * ROW_MS));
    agent.kill('SIGINT');
    expect(await exited, output).toBe(0);
    expect(output).toMatch(/^recorded \d+ cycles/m);

    // Values: each row's L_T1 arrives (as float32), in the dataset's order.
    const recorded = await openRecording(rec);
    const seen: number[] = [];
    const rowOf = new Map(data.rows.map((r, i) => [Math.fround(r[data.tags.indexOf('L_T1')]), i]));
    const firstSeen = new Map<number, number>();
    let cycleStart = NaN; // findings of a cycle carry its first sample's time
    for await (const e of recorded.events()) {
      if (e.kind === 'fact' && e.fact.kind === 'link') cycleStart = NaN;
      if (e.kind !== 'sample') continue;
      if (Number.isNaN(cycleStart)) cycleStart = e.sample.ts;
      if (e.sample.tag !== 'L_T1' || e.sample.quality !== 'good') continue;
      const row = rowOf.get(Math.fround(e.sample.value as number));
      expect(row, `L_T1 ${String(e.sample.value)} is not a value of the slice`).toBeDefined();
      if (seen[seen.length - 1] !== row) seen.push(row!);
      if (!firstSeen.has(row!)) firstSeen.set(row!, cycleStart);
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.length).toBeGreaterThanOrEqual(16); // a loaded machine may poll past a row now and then
    /** When the first row at or after `row` was on the wire (cycle start). */
    const onWire = (row: number) => Math.min(...[...firstSeen].filter(([r]) => r >= row).map(([, ts]) => ts));

    // Detection: the time-free part of the learned baseline, over the live recording.
    // A baseline runs at the cadence it was learned at: here hourly rows arrive every 250 ms and
    // are polled every 100 ms, so invariants wait for three polls (one poll can mix two rows).
    const rules = learned.rules
      .map((r) => r.rule)
      .filter((r) => TIME_FREE.has(String(r.type)))
      .map((r) => (r.type === 'expression' ? { ...r, for_ms: 150 } : r));
    const raises: number[] = [];
    const why: string[] = [];
    await new Replay({ rules, devices: recorded.devices, onFinding: (f) => void (f.active && raises.push(f.ts) && why.push(`${f.rule}: ${f.message}`)) }).run(recorded.events());
    const attackRow = 7; // 26/11/16 17 is the 8th row of the slice
    expect(raises.length).toBeGreaterThan(0);
    expect(raises[0], why[0]).toBeGreaterThanOrEqual(onWire(attackRow));
    expect(raises[0], why[0]).toBeLessThanOrEqual(onWire(attackRow + 8));
  });
});
