// The `playback` process model: a PLC whose registers replay a recording (CSV with a timestamp
// column, or JSONL from `otsentry record`) on the recording's own timeline, sped up by a factor,
// so a dataset runs through the real polling path. Register map, in the recording's column order:
// tags holding only 0/1 (or true/false) become coils from address 0, every other tag a float32
// holding register pair from address 0 (high word first).
import fs from 'node:fs';
import zlib from 'node:zlib';
import { z } from 'zod';
import { cellValue, splitCsvLine, timeParser, type TimeParser } from '../../rules/recording/csv.js';
import { csvLayout, recordingFormat, RecordingError } from '../../rules/recording/recording.js';
import type { TagDef } from './tags.js';
import type { ModelIo, ProcessModel } from './models/types.js';

export const playbackParamsSchema = z
  .object({
    type: z.literal('playback'),
    file: z.string().min(1).describe('Recording to play: CSV (one row per poll, a timestamp column) or JSONL from `otsentry record`; .gz is fine'),
    speed: z.number().positive().max(1e7).default(1).describe('Recording time per plant time: 3600 plays an hourly row every second'),
    loop: z.boolean().default(false).describe('Start over at the end (otherwise the last row stays)'),
    device: z.string().min(1).optional().describe('JSONL: the device whose samples are played (default: the first one)'),
    time_column: z.string().min(1).optional().describe('CSV timestamp column (default: ts, time, timestamp, datetime, ...)'),
    time_format: z.string().min(1).optional().describe("CSV time format: iso, epoch_s, epoch_ms or a pattern like 'DD/MM/YY hh'"),
    ignore: z.array(z.string().min(1)).default([]).describe('CSV columns that are not tags (labels, comments)'),
  })
  .strict();
export type PlaybackParams = z.infer<typeof playbackParamsSchema>;

/** A recording as the model plays it: tag names, and rows of (time, values; NaN = unchanged). */
export interface PlaybackData {
  tags: string[];
  /** true: the tag only ever held 0/1 */
  bool: boolean[];
  ts: number[];
  rows: Float64Array[];
}

function readText(file: string): string {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new RecordingError(file, 0, `cannot read it (${(e as NodeJS.ErrnoException).code}); check the playback file path`);
  }
  return (file.toLowerCase().endsWith('.gz') ? zlib.gunzipSync(buf) : buf).toString('utf8');
}

/** Load a recording for playback (synchronously: a model is built when its PLC is). */
export function loadPlayback(p: Omit<PlaybackParams, 'type' | 'speed' | 'loop'>): PlaybackData {
  const lines = readText(p.file).split(/\r?\n/);
  const ts: number[] = [];
  const rows: Float64Array[] = [];
  let tags: string[] = [];
  const num = (v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'number' && Number.isFinite(v) ? v : NaN);
  if (recordingFormat(p.file) === 'csv') {
    const layout = csvLayout(p.file, lines[0] ?? '', { timeColumn: p.time_column, timeFormat: p.time_format, ignore: p.ignore });
    tags = layout.tags.map(([, t]) => t);
    let parse: TimeParser | undefined;
    for (let i = 1; i < lines.length; i++) {
      if (lines[i].trim() === '') continue;
      const cells = splitCsvLine(lines[i], layout.delimiter);
      if (cells.length !== layout.columns.length) throw new RecordingError(p.file, i + 1, `${cells.length} cells but the header has ${layout.columns.length} columns`);
      parse ??= timeParser(p.time_format, cells[layout.timeIndex]);
      const t = parse(cells[layout.timeIndex]);
      if (Number.isNaN(t)) throw new RecordingError(p.file, i + 1, `'${cells[layout.timeIndex].trim()}' is not a time in the format of the earlier rows`);
      if (ts.length && t < ts[ts.length - 1]) throw new RecordingError(p.file, i + 1, 'time goes back; sort the file by time');
      const row = new Float64Array(tags.length);
      layout.tags.forEach(([c, name], j) => {
        try {
          row[j] = num(cellValue(cells[c]));
        } catch (e) {
          throw new RecordingError(p.file, i + 1, `column '${name}': ${(e as Error).message}`);
        }
      });
      ts.push(t);
      rows.push(row);
    }
  } else {
    // JSONL: one row per distinct timestamp of the chosen device's samples.
    const index = new Map<string, number>();
    let device = p.device;
    const pending: Array<[number, string, number]> = [];
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      let o: { type?: string; device?: string; tag?: string; value?: unknown; ts?: number | string; quality?: string };
      try {
        o = JSON.parse(l) as typeof o;
      } catch {
        throw new RecordingError(p.file, i + 1, 'not JSON; a JSONL recording has one JSON object per line');
      }
      if (o.type !== 'sample' || typeof o.tag !== 'string' || typeof o.device !== 'string') return;
      device ??= o.device;
      if (o.device !== device || (o.quality !== undefined && o.quality !== 'good')) return;
      const t = typeof o.ts === 'number' ? o.ts : Date.parse(String(o.ts));
      if (!index.has(o.tag)) index.set(o.tag, index.size);
      pending.push([t, o.tag, num(o.value)]);
    });
    tags = [...index.keys()];
    pending.sort((a, b) => a[0] - b[0]);
    for (const [t, tag, v] of pending) {
      if (ts.length === 0 || t !== ts[ts.length - 1]) {
        ts.push(t);
        rows.push(new Float64Array(tags.length).fill(NaN));
      }
      rows[rows.length - 1][index.get(tag)!] = v;
    }
  }
  if (rows.length === 0) throw new RecordingError(p.file, 0, 'nothing to play: no rows (CSV) or no good samples (JSONL)');
  const bool = tags.map((_, j) => rows.every((r) => r[j] !== r[j] || r[j] === 0 || r[j] === 1));
  return { tags, bool, ts, rows };
}

/** The register map a playback PLC exposes for a recording (the agent's device tags follow it). */
export function playbackTags(data: Pick<PlaybackData, 'tags' | 'bool'>): TagDef[] {
  let coil = 0;
  let reg = 0;
  return data.tags.map((name, j) => {
    const tag = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^([^A-Za-z_])/, '_$1');
    if (data.bool[j]) return { name: tag, area: 'coil', address: coil++, type: 'bool', description: `${name} from the recording` };
    const t: TagDef = { name: tag, area: 'holding_register', address: reg, type: 'float32', description: `${name} from the recording`, live: true };
    reg += 2;
    return t;
  });
}

export class PlaybackModel implements ProcessModel {
  readonly type = 'playback' as const;
  readonly tags: TagDef[];
  readonly sizes: { coils: number; discrete_inputs: number; holding_registers: number; input_registers: number };
  readonly defaultIdentity = {
    vendor_name: 'otsentry simulators',
    product_code: 'OTS-PLAYBACK',
    revision: '1.0.0',
    vendor_url: '',
    product_name: 'Playback PLC',
    model_name: 'PLAYBACK',
    user_application_name: '',
  };
  readonly tamperDefaults = [];
  readonly sensorTags: string[];
  private readonly data: PlaybackData;
  /** recording time played so far, from the first row */
  private elapsed = 0;
  private next = 0;

  constructor(private readonly params: PlaybackParams) {
    this.data = loadPlayback(params);
    this.tags = playbackTags(this.data);
    const coils = this.tags.filter((t) => t.area === 'coil').length;
    const regs = this.tags.filter((t) => t.area === 'holding_register').length * 2;
    this.sizes = { coils: Math.max(1, coils), discrete_inputs: 0, holding_registers: Math.max(1, regs), input_registers: 0 };
    this.sensorTags = this.tags.filter((t) => t.area === 'holding_register').slice(0, 1).map((t) => t.name);
  }

  /** Rows in the recording and the one playing now (for tests and logs). */
  position(): { rows: number; row: number; ts: number } {
    const row = Math.max(0, this.next - 1);
    return { rows: this.data.rows.length, row, ts: this.data.ts[row] };
  }

  init(io: ModelIo): void {
    this.apply(0, io);
    this.next = 1;
  }

  step(dtMs: number, io: ModelIo): void {
    const d = this.data;
    this.elapsed += dtMs * this.params.speed;
    const t0 = d.ts[0];
    while (this.next < d.rows.length && d.ts[this.next] - t0 <= this.elapsed) this.apply(this.next++, io);
    if (this.params.loop && this.next >= d.rows.length) {
      // One period is the recording's span plus one row interval; then it starts over.
      const period = d.ts[d.ts.length - 1] - t0 + (d.ts.length > 1 ? d.ts[1] - t0 : 1000);
      if (this.elapsed >= period) {
        this.elapsed -= period;
        this.next = 0;
        this.step(0, io);
      }
    }
  }

  private apply(i: number, io: ModelIo): void {
    const row = this.data.rows[i];
    for (let j = 0; j < row.length; j++) if (row[j] === row[j]) io.report(this.tags[j], row[j]);
  }
}
