// A BATADAL slice: a baseline learned on the normal year (dataset03) replays quiet over three
// normal weeks of dataset04 and raises within the first hours of attack 5 (PU7 slowed to 0.9).
// Skips, saying why, when the public data folder is absent (../shared/data or $OTSENTRY_DATA).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Learner } from '../../rules/learn/learner.js';
import { openRecording, type CsvOptions, type RecordEvent } from '../../rules/recording/recording.js';
import { Replay } from '../../rules/replay/run.js';

const DATA = process.env.OTSENTRY_DATA ? path.resolve(process.env.OTSENTRY_DATA) : path.resolve(import.meta.dirname, '../../../shared/data');
const DIR = path.join(DATA, 'batadal');
const present = fs.existsSync(path.join(DIR, 'BATADAL_dataset03.csv.gz')) && fs.existsSync(path.join(DIR, 'BATADAL_dataset04.csv.gz'));
if (!present) console.info(`BATADAL slice tests skipped: no ${DIR}/BATADAL_dataset0{3,4}.csv.gz (set OTSENTRY_DATA to the public data folder)`);

const CSV: CsvOptions = { device: 'ctown', timeColumn: 'DATETIME', timeFormat: 'DD/MM/YY hh', labels: 'ATT_FLAG' };
const tsOf = (e: RecordEvent) => (e.kind === 'sample' ? e.sample.ts : e.kind === 'fact' ? e.fact.ts : e.kind === 'cycle' ? e.ts : -Infinity);

async function* between(events: AsyncIterable<RecordEvent>, from: string, to: string): AsyncGenerator<RecordEvent> {
  const [a, b] = [Date.parse(from), Date.parse(to)];
  for await (const e of events) if (tsOf(e) >= a && tsOf(e) < b) yield e;
}

describe.skipIf(!present)('BATADAL slice', () => {
  it('learned on the normal year: quiet on normal weeks, raises within two hours of an attack', async () => {
    const train = await openRecording(path.join(DIR, 'BATADAL_dataset03.csv.gz'), CSV);
    const learned = await new Learner(train.devices).run(train.events());
    expect(learned.rules.length).toBeGreaterThan(100);
    const test = await openRecording(path.join(DIR, 'BATADAL_dataset04.csv.gz'), CSV);
    const replay = async (from: string, to: string) => {
      const raises: Array<{ ts: number; rule: string }> = [];
      const r = new Replay({ rules: learned.rules.map((x) => x.rule), devices: test.devices, onFinding: (f) => void (f.active && raises.push({ ts: f.ts, rule: f.rule })) });
      const s = await r.run(between(test.events(), from, to));
      return { raises, cycles: s.cycles };
    };
    const normal = await replay('2016-11-05T00:00:00Z', '2016-11-26T00:00:00Z');
    expect(normal.cycles).toBe(21 * 24);
    expect(normal.raises).toEqual([]);
    const attack = await replay('2016-11-26T00:00:00Z', '2016-11-30T00:00:00Z');
    expect(attack.raises.length).toBeGreaterThan(0);
    expect(attack.raises[0].ts - Date.parse('2016-11-26T17:00:00Z')).toBeGreaterThanOrEqual(0);
    expect(attack.raises[0].ts - Date.parse('2016-11-26T17:00:00Z')).toBeLessThanOrEqual(2 * 3_600_000);
  });
});
