// Reading recordings: CSV (time formats, labels, ignored columns, gzip) and JSONL, bad recordings
// answered with the file, the line number and the problem, and the poll cycles read back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openRecording, readCsv, readJsonl, type CsvOptions, type RecordEvent } from '../../rules/recording/recording.js';
import { patternParser, parseIso, splitCsvLine } from '../../rules/recording/csv.js';
import { CycleFeeder, type RecordedCycle } from '../../rules/recording/cycles.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-rec-'));
function file(name: string, text: string | Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}
async function all(it: AsyncIterable<RecordEvent>): Promise<RecordEvent[]> {
  const out: RecordEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}
async function csvError(text: string, o: CsvOptions = {}): Promise<string> {
  const f = file(`bad-${Math.random().toString(36).slice(2)}.csv`, text);
  try {
    await all(readCsv(f, o));
  } catch (e) {
    return (e as Error).message.replace(f, 'F');
  }
  return 'no error';
}

describe('CSV recordings', () => {
  it('one cycle per row: samples of the tag columns, labels, ignored and empty cells', async () => {
    const f = file('a.csv', 'time,level,pump,note,label\n2025-03-01T08:00:00Z,1.5,true,x,0\n2025-03-01T08:00:01Z,,false,y,1\n');
    const evs = await all(readCsv(f, { device: 'tank1', labels: 'label', ignore: ['note'] }));
    expect(evs).toEqual([
      { kind: 'sample', line: 2, sample: { device: 'tank1', tag: 'level', value: 1.5, quality: 'good', ts: Date.parse('2025-03-01T08:00:00Z'), rtt_ms: 0 } },
      { kind: 'sample', line: 2, sample: { device: 'tank1', tag: 'pump', value: true, quality: 'good', ts: Date.parse('2025-03-01T08:00:00Z'), rtt_ms: 0 } },
      { kind: 'cycle', device: 'tank1', ts: Date.parse('2025-03-01T08:00:00Z'), line: 2, label: 0 },
      { kind: 'sample', line: 3, sample: { device: 'tank1', tag: 'pump', value: false, quality: 'good', ts: Date.parse('2025-03-01T08:00:01Z'), rtt_ms: 0 } },
      { kind: 'cycle', device: 'tank1', ts: Date.parse('2025-03-01T08:00:01Z'), line: 3, label: 1 },
    ]);
    const rec = await openRecording(f, { device: 'tank1', labels: 'label', ignore: ['note'] });
    expect(rec.devices).toEqual([{ id: 'tank1', tags: [{ name: 'level' }, { name: 'pump' }] }]);
  });

  it('reads gzip, semicolons, quoted cells, epoch seconds and day-first patterns', async () => {
    const f = file('b.csv.gz', zlib.gzipSync(' DATETIME; "L 1";S\n04/07/16 00; 2.5;1\n04/07/16 01;"2,6";0\n'));
    await expect(all(readCsv(f, { timeFormat: 'DD/MM/YY hh' }))).rejects.toThrow(/b\.csv\.gz:3: column 'L 1': '2,6' is not a number/);
    const g = file('c.csv', 'ts,v\n1740816000,1\n1740816000.5,2\n');
    const evs = await all(readCsv(g));
    expect(evs.filter((e) => e.kind === 'cycle').map((e) => e.kind === 'cycle' && e.ts)).toEqual([1740816000000, 1740816000500]);
    expect(patternParser('DD/MM/YY hh')('13/09/16 23')).toBe(Date.parse('2016-09-13T23:00:00Z'));
    expect(parseIso('2016-09-13 23:00')).toBe(Date.parse('2016-09-13T23:00:00Z'));
    expect(parseIso('2016-09-13T23:00:00+02:00')).toBe(Date.parse('2016-09-13T21:00:00Z'));
    expect(splitCsvLine('a,"b ""c"", d",e', ',')).toEqual(['a', 'b "c", d', 'e']);
  });

  it('answers bad recordings with the line number and the problem', async () => {
    expect(await csvError('time,a,b\n2025-03-01T08:00:00Z,1,2\n2025-03-01T08:00:01Z,1\n')).toBe('F:3: 2 cells but the header has 3 columns; a row needs one cell per column (empty cells are allowed)');
    expect(await csvError('time,a\n2025-03-01T08:00:01Z,1\n2025-03-01T08:00:00Z,2\n')).toBe('F:3: time 2025-03-01T08:00:00.000Z is before the previous row\'s 2025-03-01T08:00:01.000Z (line 2); sort the file by time');
    expect(await csvError('time,a\n2025-03-01T08:00:00Z,1\n2025-03-01T08:00:01Z,high\n')).toBe("F:3: column 'a': 'high' is not a number; use numbers or true/false, or leave the cell empty");
    expect(await csvError('when,a\n1,2\n')).toBe('F:1: no timestamp column; name it ts, time, timestamp or datetime, or give --time-column (columns: when, a)');
    expect(await csvError('time,a\nyesterday,2\n')).toMatch(/^F:2: column 'time': cannot tell the time format of 'yesterday'; use --time-format/);
    expect(await csvError('time,a\n2025-03-01T08:00:00Z,1\nsoon,2\n')).toBe("F:3: column 'time': 'soon' is not a time in the format of the earlier rows");
    expect(await csvError('time,a,a\n')).toBe("F:1: column 'a' appears twice (columns 2 and 3)");
    expect(await csvError('time,a\n2025-03-01T08:00:00Z,1\n', { labels: 'attack' })).toBe("F:1: no label column 'attack' (columns: time, a)");
    expect(await csvError('time,a\n"2025,1\n')).toBe('F:2: unclosed quote (a quoted cell must end on the same line)');
    await expect(all(readCsv(path.join(dir, 'missing.csv')))).rejects.toThrow(/missing\.csv: file not found; check the path given to --input/);
  });
});

describe('JSONL recordings', () => {
  const lines = [
    { type: 'header', v: 1, devices: [{ id: 'p', tags: ['a'] }] },
    { type: 'sample', device: 'p', tag: 'a', value: 1, ts: 1000 },
    { type: 'fact', device: 'p', kind: 'link', ts: 1000, data: { reachable: true, rtt_ms: 2 } },
    { type: 'sample', device: 'p', tag: 'a', value: 2, quality: 'bad', ts: '1970-01-01T00:00:02Z' },
    { type: 'cycle', device: 'p', ts: 2000, label: 1 },
  ];

  it('reads samples, facts and cycles; devices come from the header', async () => {
    const f = file('r.jsonl', lines.map((l) => JSON.stringify(l)).join('\n') + '\n\n');
    const rec = await openRecording(f);
    expect(rec.devices).toEqual([{ id: 'p', tags: [{ name: 'a' }] }]);
    const evs = await all(rec.events());
    expect(evs.map((e) => e.kind)).toEqual(['header', 'sample', 'fact', 'sample', 'cycle']);
    expect(evs[3]).toMatchObject({ line: 4, sample: { value: 2, quality: 'bad', ts: 2000, rtt_ms: 0 } });
  });

  it('answers bad lines with the line number and the problem', async () => {
    const bad = async (extra: string) => {
      const f = file(`bad-${Math.random().toString(36).slice(2)}.jsonl`, lines.slice(0, 3).map((l) => JSON.stringify(l)).join('\n') + '\n' + extra + '\n');
      try {
        for await (const e of readJsonl(f)) void e;
      } catch (e) {
        return (e as Error).message.replace(f, 'F');
      }
      return 'no error';
    };
    expect(await bad('{"type":"sample"')).toMatch(/^F:4: not JSON \(.*\); a JSONL recording has one JSON object per line$/);
    expect(await bad('{"type":"sample","device":"p","tag":"a","value":1,"ts":500}')).toBe('F:4: sample p/a: time 1970-01-01T00:00:00.500Z is before 1970-01-01T00:00:01.000Z (line 2); a recording is in time order');
    expect(await bad('{"type":"sample","device":"p","tag":"a","ts":5000}')).toBe('F:4: value: missing; a sample line has device, tag, value, ts (quality, rtt_ms optional)');
    expect(await bad('{"type":"reading"}')).toMatch(/^F:4: type: /);
    expect(await bad('[1, 2]')).toBe('F:4: a line is a JSON object with type header, sample, fact or cycle');
    expect(await bad('{"type":"sample","device":"p","tag":"a","value":1,"ts":"later"}')).toBe('F:4: ts: not a time; use epoch milliseconds or ISO 8601 with a zone');
    expect(await bad(JSON.stringify(lines[0]))).toBe('F:4: a header line may only be the first line');
    expect(await bad('{"type":"fact","device":"p","kind":"identity","ts":3000,"data":{},"skipped_cycles":2}')).toBe('F:4: skipped_cycles: only a link fact ends a cycle and carries its skipped cycles');
    expect(await bad('{"type":"cycle","device":"p","ts":3000,"loop_restart":{"ts":3000,"restarts":1}}')).toMatch(/^F:4: loop_restart\.error: /);
  });

  it('refuses a format newer than it reads, naming the way out', async () => {
    const f = file('v3.jsonl', JSON.stringify({ type: 'header', v: 3, devices: [] }) + '\n');
    await expect(openRecording(f)).rejects.toThrow(/v3\.jsonl:1: recording format 3 is newer than this otsentry reads \(up to 2\); replay it with the otsentry version that recorded it/);
  });
});

describe('cycles read back (format 2)', () => {
  const sample = (tag: string, value: number, ts: number) => ({ type: 'sample', device: 'p', tag, value, ts });
  const link = (ts: number, extra: Record<string, unknown> = {}) => ({ type: 'fact', device: 'p', kind: 'link', ts, data: { reachable: true }, ...extra });

  async function cycles(v: number, lines: unknown[]): Promise<RecordedCycle[]> {
    const f = file(`c${v}-${Math.random().toString(36).slice(2)}.jsonl`, [{ type: 'header', v, devices: [{ id: 'p', tags: ['a'] }] }, ...lines].map((l) => JSON.stringify(l)).join('\n'));
    const out: RecordedCycle[] = [];
    const feeder = new CycleFeeder((c) => out.push(c));
    for await (const e of (await openRecording(f)).events()) feeder.push(e);
    feeder.finish();
    return out;
  }

  it('carries skipped slots on the link fact and loop restarts on a cycle line', async () => {
    const restart = { ts: 3000, restarts: 1, error: 'TypeError: x', restart_in_ms: 500 };
    const cs = await cycles(2, [sample('a', 1, 1000), link(1000, { skipped_cycles: 3 }), { type: 'cycle', device: 'p', ts: 3000, loop_restart: restart }, sample('a', 2, 4000), link(4000)]);
    expect(cs.map((c) => [c.samples.length, c.facts.length, c.skipped_cycles, c.loop_restart])).toEqual([
      [1, 1, 3, undefined],
      [0, 0, 0, restart],
      [1, 1, 0, undefined],
    ]);
  });

  it('keeps a tag read twice in one cycle (subscriptions) in it; format 1 splits its first cycle there', async () => {
    const lines = [sample('a', 1, 1000), sample('a', 2, 1100), link(1100), sample('a', 3, 2000), sample('a', 4, 2100), link(2100)];
    expect((await cycles(2, lines)).map((c) => c.samples.length)).toEqual([2, 2]);
    expect((await cycles(1, lines)).map((c) => c.samples.length)).toEqual([1, 1, 2]);
  });
});
