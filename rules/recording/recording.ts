// Reading recordings: JSONL (what `otsentry record` writes: header, sample, fact and cycle lines)
// and CSV (one row per poll cycle: a timestamp column, one column per tag, optional label column).
// Either may be gzipped. Every problem is a RecordingError naming the file, the line and the fix.
// JSONL format 2 (header `v: 2`) carries what the judge needs besides the data: the slots a cycle
// overran (`skipped_cycles` on the link fact that ends it) and restarts of a device's poll loop
// (a `cycle` line with `loop_restart`), and every one of its cycles ends with a link fact or a
// cycle line. Format 1 recordings read as before.
import fs from 'node:fs';
import readline from 'node:readline';
import zlib from 'node:zlib';
import { z } from 'zod';
import type { Fact, Sample } from '../../protocols/types.js';
import type { LoopRestart } from '../judge/cycle.js';
import type { DeviceRef } from '../types.js';
import { cellValue, detectDelimiter, splitCsvLine, timeParser, TIME_COLUMN_NAMES, type TimeParser } from './csv.js';
import { OperationalError } from '../../protocols/errors.js';
import { formatPath } from '../../protocols/problems.js';

/** Newest JSONL format this reader knows; `otsentry record` writes it. */
export const RECORDING_FORMAT = 2;

/** One thing a recording says, with the line it came from. */
export type RecordEvent =
  /** the first line of a JSONL recording: its format and devices (format 2: cycles always end explicitly) */
  | { kind: 'header'; v: number; devices: Array<{ id: string; tags: string[] }>; line: number }
  | { kind: 'sample'; sample: Sample; line: number }
  /** skipped_cycles: on a link fact, the poll slots its cycle overran */
  | { kind: 'fact'; fact: Fact; line: number; skipped_cycles?: number }
  /** end of one poll cycle (a CSV row, a `cycle` line); label: 1 attack, 0 normal, NaN unknown */
  | { kind: 'cycle'; device: string; ts: number; line: number; label?: number; skipped_cycles?: number; loop_restart?: LoopRestart };

export class RecordingError extends OperationalError {
  declare readonly code: 'bad_recording';
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super('bad_recording', `${file}${line > 0 ? `:${line}` : ''}: ${problem}`, 'record');
  }
}

export interface CsvOptions {
  /** device the columns belong to (default 'csv') */
  device?: string;
  /** timestamp column; default the first named ts, time, timestamp, datetime, date ... */
  timeColumn?: string;
  /** iso, epoch_s, epoch_ms or a pattern like 'DD/MM/YY hh'; default: guessed */
  timeFormat?: string;
  /** column holding labels (1 attack, 0 normal, anything else unknown); not a tag */
  labels?: string;
  /** columns that are neither tags nor time nor labels */
  ignore?: readonly string[];
}

export type RecordingFormat = 'csv' | 'jsonl';

export function recordingFormat(file: string): RecordingFormat {
  const base = file.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.csv') || base.endsWith('.tsv') || base.endsWith('.txt')) return 'csv';
  return 'jsonl';
}

/** Lines of a (possibly gzipped) text file, numbered from 1. */
export async function* readLines(file: string): AsyncGenerator<[string, number]> {
  let stream: NodeJS.ReadableStream;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    stream = fs.createReadStream(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RecordingError(file, 0, code === 'ENOENT' ? 'file not found; check the path given to --input' : `cannot read it (${code}); check its permissions`);
  }
  if (file.toLowerCase().endsWith('.gz')) {
    const gunzip = zlib.createGunzip();
    stream.on('error', (e) => gunzip.destroy(e));
    stream = stream.pipe(gunzip);
  }
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const l of rl) yield [l, ++n];
  } catch (e) {
    throw new RecordingError(file, n, `cannot read past this line (${(e as Error).message}); is the file complete?`);
  }
}

/** What a CSV header says: the device and its tags, and which columns are time and labels. */
export interface CsvLayout {
  delimiter: string;
  columns: string[];
  timeIndex: number;
  labelIndex: number;
  /** [column index, tag name] */
  tags: Array<[number, string]>;
}

export function csvLayout(file: string, header: string, o: CsvOptions): CsvLayout {
  const delimiter = detectDelimiter(header);
  const columns = splitCsvLine(header.replace(/^\uFEFF/, ''), delimiter).map((c) => c.trim());
  const seen = new Map<string, number>();
  columns.forEach((c, i) => {
    if (c === '') throw new RecordingError(file, 1, `column ${i + 1} has no name; give every column a header`);
    if (seen.has(c)) throw new RecordingError(file, 1, `column '${c}' appears twice (columns ${seen.get(c)! + 1} and ${i + 1})`);
    seen.set(c, i);
  });
  const timeIndex = o.timeColumn !== undefined ? columns.indexOf(o.timeColumn) : columns.findIndex((c) => TIME_COLUMN_NAMES.includes(c.toLowerCase()));
  if (timeIndex < 0) {
    throw new RecordingError(file, 1, o.timeColumn !== undefined ? `no column '${o.timeColumn}' (columns: ${columns.join(', ')})` : `no timestamp column; name it ts, time, timestamp or datetime, or give --time-column (columns: ${columns.join(', ')})`);
  }
  const labelIndex = o.labels !== undefined ? columns.indexOf(o.labels) : -1;
  if (o.labels !== undefined && labelIndex < 0) throw new RecordingError(file, 1, `no label column '${o.labels}' (columns: ${columns.join(', ')})`);
  for (const c of o.ignore ?? []) if (!seen.has(c)) throw new RecordingError(file, 1, `--ignore names no column '${c}' (columns: ${columns.join(', ')})`);
  const skip = new Set([timeIndex, labelIndex, ...(o.ignore ?? []).map((c) => seen.get(c)!)]);
  const tags = columns.map((c, i) => [i, c] as [number, string]).filter(([i]) => !skip.has(i));
  if (tags.length === 0) throw new RecordingError(file, 1, 'no tag columns besides time and labels');
  return { delimiter, columns, timeIndex, labelIndex, tags };
}

function labelOf(cell: string | undefined): number {
  const n = Number((cell ?? '').trim());
  if ((cell ?? '').trim() === '' || !Number.isFinite(n) || n < 0) return NaN;
  return n > 0 ? 1 : 0;
}

/** Rows of a CSV recording as samples plus one cycle event per row. */
export async function* readCsv(file: string, o: CsvOptions = {}): AsyncGenerator<RecordEvent> {
  const device = o.device ?? 'csv';
  let layout: CsvLayout | undefined;
  let parse: TimeParser | undefined;
  let prevTs = -Infinity;
  let prevLine = 0;
  for await (const [raw, n] of readLines(file)) {
    if (layout === undefined) {
      layout = csvLayout(file, raw, o);
      continue;
    }
    if (raw.trim() === '') continue;
    let cells: string[];
    try {
      cells = splitCsvLine(raw, layout.delimiter);
    } catch (e) {
      throw new RecordingError(file, n, (e as Error).message);
    }
    if (cells.length !== layout.columns.length) {
      throw new RecordingError(file, n, `${cells.length} cells but the header has ${layout.columns.length} columns; a row needs one cell per column (empty cells are allowed)`);
    }
    const tcell = cells[layout.timeIndex];
    try {
      parse ??= timeParser(o.timeFormat, tcell);
    } catch (e) {
      throw new RecordingError(file, n, `column '${layout.columns[layout.timeIndex]}': ${(e as Error).message}`);
    }
    const ts = parse(tcell);
    if (Number.isNaN(ts)) throw new RecordingError(file, n, `column '${layout.columns[layout.timeIndex]}': '${tcell.trim()}' is not a time in the format of the earlier rows`);
    if (ts < prevTs) throw new RecordingError(file, n, `time ${new Date(ts).toISOString()} is before the previous row's ${new Date(prevTs).toISOString()} (line ${prevLine}); sort the file by time`);
    prevTs = ts;
    prevLine = n;
    for (const [i, tag] of layout.tags) {
      let value: number | boolean | undefined;
      try {
        value = cellValue(cells[i]);
      } catch (e) {
        throw new RecordingError(file, n, `column '${tag}': ${(e as Error).message}`);
      }
      if (value === undefined) continue;
      yield { kind: 'sample', line: n, sample: { device, tag, value, quality: 'good', ts, rtt_ms: 0 } };
    }
    yield { kind: 'cycle', device, ts, line: n, label: layout.labelIndex >= 0 ? labelOf(cells[layout.labelIndex]) : undefined };
  }
  if (layout === undefined) throw new RecordingError(file, 0, 'the file is empty; a CSV recording starts with a header line');
}

const tsSchema = z.union([z.number().finite(), z.string().min(1)]);
const sampleLine = z
  .object({
    type: z.literal('sample'),
    device: z.string().min(1),
    tag: z.string().min(1),
    value: z.union([z.number(), z.boolean(), z.string(), z.null()]),
    quality: z.enum(['good', 'bad', 'uncertain']).default('good'),
    ts: tsSchema,
    rtt_ms: z.number().finite().default(0),
    reason: z.string().optional(),
  })
  .strict();
const skippedCycles = z.number().int().min(0).optional();
const factLine = z
  .object({ type: z.literal('fact'), device: z.string().min(1), kind: z.enum(['identity', 'diagnostics', 'posture', 'link']), ts: tsSchema, data: z.record(z.string(), z.unknown()), skipped_cycles: skippedCycles })
  .strict()
  .refine((f) => f.skipped_cycles === undefined || f.kind === 'link', { path: ['skipped_cycles'], message: 'only a link fact ends a cycle and carries its skipped cycles' });
const loopRestart = z.object({ ts: z.number().finite(), restarts: z.number().int().min(1), error: z.string(), restart_in_ms: z.number().min(0) }).strict();
const cycleLine = z.object({ type: z.literal('cycle'), device: z.string().min(1), ts: tsSchema, label: z.number().optional(), skipped_cycles: skippedCycles, loop_restart: loopRestart.optional() }).strict();
export const headerLine = z
  .object({
    type: z.literal('header'),
    v: z.number().int(),
    devices: z.array(z.object({ id: z.string().min(1), tags: z.array(z.string().min(1)) })).default([]),
  })
  .passthrough();
const anyLine = z.discriminatedUnion('type', [sampleLine, factLine, cycleLine, headerLine]);

function toMs(ts: number | string): number {
  if (typeof ts === 'number') return ts;
  const n = Date.parse(ts);
  return n;
}

const LINE_FIELDS: Record<string, string> = {
  sample: 'device, tag, value, ts (quality, rtt_ms optional)',
  fact: 'device, kind, ts, data (skipped_cycles optional on a link fact)',
  cycle: 'device, ts (label, skipped_cycles, loop_restart optional)',
  header: 'v, devices',
};

function zodProblem(obj: unknown, err: z.ZodError): string {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'a line is a JSON object with type header, sample, fact or cycle';
  const i = err.issues[0];
  const key = i.path[0];
  const type = (obj as { type?: unknown }).type;
  const fields = typeof type === 'string' ? LINE_FIELDS[type] : undefined;
  if (typeof key === 'string' && !(key in obj) && fields) return `${key}: missing; a ${String(type)} line has ${fields}`;
  const where = i.path.length ? `${formatPath(i.path)}: ` : '';
  return `${where}${i.message}`;
}

/** Devices and tags named by a JSONL header line, if the file starts with one. */
export async function jsonlDevices(file: string): Promise<DeviceRef[]> {
  const tags = new Map<string, Set<string>>();
  for await (const ev of readJsonl(file)) {
    if (ev.kind === 'header') {
      for (const d of ev.devices) tags.set(d.id, new Set(d.tags));
      return [...tags].map(([id, t]) => ({ id, tags: [...t].map((name) => ({ name })) }));
    }
    const device = ev.kind === 'sample' ? ev.sample.device : ev.kind === 'fact' ? ev.fact.device : ev.device;
    const set = tags.get(device) ?? new Set<string>();
    tags.set(device, set);
    if (ev.kind === 'sample') set.add(ev.sample.tag);
  }
  return [...tags].map(([id, t]) => ({ id, tags: [...t].map((name) => ({ name })) }));
}

/** Lines of a JSONL recording; timestamps of each tag (and fact kind) must not go back. */
export async function* readJsonl(file: string): AsyncGenerator<RecordEvent> {
  const last = new Map<string, [number, number]>();
  const check = (key: string, ts: number, n: number, what: string) => {
    if (Number.isNaN(ts)) throw new RecordingError(file, n, 'ts: not a time; use epoch milliseconds or ISO 8601 with a zone');
    const prev = last.get(key);
    if (prev && ts < prev[0]) throw new RecordingError(file, n, `${what}: time ${new Date(ts).toISOString()} is before ${new Date(prev[0]).toISOString()} (line ${prev[1]}); a recording is in time order`);
    last.set(key, [ts, n]);
  };
  for await (const [raw, n] of readLines(file)) {
    const text = raw.trim();
    if (text === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new RecordingError(file, n, `not JSON (${(e as Error).message}); a JSONL recording has one JSON object per line`);
    }
    const p = anyLine.safeParse(obj);
    if (!p.success) throw new RecordingError(file, n, zodProblem(obj, p.error));
    const d = p.data;
    if (d.type === 'header') {
      if (n !== 1) throw new RecordingError(file, n, 'a header line may only be the first line');
      if (d.v > RECORDING_FORMAT) throw new RecordingError(file, n, `recording format ${d.v} is newer than this otsentry reads (up to ${RECORDING_FORMAT}); replay it with the otsentry version that recorded it`);
      yield { kind: 'header', v: d.v, devices: d.devices, line: n };
    } else if (d.type === 'sample') {
      const ts = toMs(d.ts);
      check(`s\u0000${d.device}\u0000${d.tag}`, ts, n, `sample ${d.device}/${d.tag}`);
      const s: Sample = { device: d.device, tag: d.tag, value: d.value, quality: d.quality, ts, rtt_ms: d.rtt_ms };
      if (d.reason !== undefined) s.reason = d.reason;
      yield { kind: 'sample', sample: s, line: n };
    } else if (d.type === 'fact') {
      const ts = toMs(d.ts);
      check(`f\u0000${d.device}\u0000${d.kind}`, ts, n, `${d.kind} fact of ${d.device}`);
      const ev: RecordEvent = { kind: 'fact', fact: { device: d.device, kind: d.kind, ts, data: d.data }, line: n };
      if (d.skipped_cycles !== undefined) ev.skipped_cycles = d.skipped_cycles;
      yield ev;
    } else {
      const ts = toMs(d.ts);
      check(`c\u0000${d.device}`, ts, n, `cycle of ${d.device}`);
      const ev: RecordEvent = { kind: 'cycle', device: d.device, ts, line: n, label: d.label === undefined ? undefined : d.label > 0 ? 1 : d.label === 0 ? 0 : NaN };
      if (d.skipped_cycles !== undefined) ev.skipped_cycles = d.skipped_cycles;
      if (d.loop_restart !== undefined) ev.loop_restart = d.loop_restart;
      yield ev;
    }
  }
}

export interface RecordingSource {
  format: RecordingFormat;
  /** devices and tags the recording holds (CSV: its columns; JSONL: header or a first pass) */
  devices: DeviceRef[];
  /** the recording's lines in order, its header (if any) first */
  events(): AsyncGenerator<RecordEvent>;
}

/** Open a recording: its devices (read ahead) and a fresh event stream per call of events(). */
export async function openRecording(file: string, csv: CsvOptions = {}): Promise<RecordingSource> {
  if (recordingFormat(file) === 'csv') {
    let header: string | undefined;
    for await (const [l] of readLines(file)) {
      header = l;
      break;
    }
    if (header === undefined) throw new RecordingError(file, 0, 'the file is empty; a CSV recording starts with a header line');
    const layout = csvLayout(file, header, csv);
    return { format: 'csv', devices: [{ id: csv.device ?? 'csv', tags: layout.tags.map(([, name]) => ({ name })) }], events: () => readCsv(file, csv) };
  }
  const devices = await jsonlDevices(file);
  return { format: 'jsonl', devices, events: () => readJsonl(file) };
}
