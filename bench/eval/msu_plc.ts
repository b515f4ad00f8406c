// The MSU gas pipeline PLC as a polling agent would see it: a register image of unit 4 kept up to
// date by every FC16 write (setpoint .. solenoid) and FC3 response (pressure) of the captured
// frames, FC08 diagnostic counters that count every frame the way a serial-line device does (the
// simulator's own DiagnosticCounters), and a response time. The capture holds no response times:
// by default the agent sees a fixed one with jitter; `rtt_model` switches on a modelled one that
// grows with the PLC's load (a model, not the data: whatever it catches is labelled so). An agent
// polls the PLC every poll_ms of capture time: samples, a diagnostics fact and a link fact.
import type { Fact, Sample } from '../../protocols/types.js';
import type { Cycle } from '../../rules/judge/index.js';
import { DiagnosticCounters } from '../../simulators/modbus/diagnostics.js';
import { createRng } from '../../simulators/modbus/rng.js';
import { splitCsvLine } from '../../rules/recording/csv.js';
import { readLines } from '../../rules/recording/recording.js';

export const MSU_DEVICE = 'pipeline-plc';
const UNIT = 4;
/** FC16 payload fields in write order, and the tag each becomes. */
const PARAM_COLUMNS = ['setpoint', 'gain', 'reset rate', 'deadband', 'cycle time', 'rate', 'system mode', 'control scheme', 'pump', 'solenoid'];
export const MSU_TAGS = [...PARAM_COLUMNS.map((c) => c.replace(/ /g, '_')), 'pressure'];

export interface Frame {
  ts: number;
  address: number;
  fc: number;
  /** master to PLC */
  query: boolean;
  params?: number[];
  pressure?: number;
  /** categorized result: 0 normal, 1..7 attack category */
  category: number;
}

/** Frames of the dataset CSV (`?` = field not present). `time` and `crc rate` are not features. */
export async function readFrames(file: string): Promise<Frame[]> {
  const out: Frame[] = [];
  let idx: Record<string, number> | undefined;
  for await (const [line, n] of readLines(file)) {
    const cells = splitCsvLine(line, ',');
    if (idx === undefined) {
      idx = Object.fromEntries(cells.map((c, i) => [c.trim(), i]));
      for (const c of ['address', 'function', 'command response', 'time', 'categorized result', 'pressure measurement', ...PARAM_COLUMNS]) {
        if (idx[c] === undefined) throw new Error(`${file}: no column '${c}'`);
      }
      continue;
    }
    if (line.trim() === '') continue;
    const num = (c: string) => (cells[idx![c]] === '?' ? NaN : Number(cells[idx![c]]));
    const f: Frame = { ts: Math.round(num('time') * 1000), address: num('address'), fc: num('function'), query: num('command response') === 1, category: num('categorized result') };
    if (!Number.isFinite(f.ts) || !Number.isFinite(f.fc)) throw new Error(`${file}:${n}: time or function is missing`);
    const params = PARAM_COLUMNS.map(num);
    if (params.every(Number.isFinite)) f.params = params;
    const p = num('pressure measurement');
    if (Number.isFinite(p)) f.pressure = p;
    out.push(f);
  }
  return out;
}

export interface PollerSettings {
  poll_ms: number;
  /** register reads per poll (the agent's own requests) */
  reads_per_poll: number;
  /** counter reads per diagnostics fact */
  counter_reads: number;
  /** model the response time from the PLC's load (8 ms + 3 ms per frame it handled in the last second) */
  rtt_model: boolean;
}

export const MSU_POLLING: PollerSettings = { poll_ms: 1000, reads_per_poll: 2, counter_reads: 4, rtt_model: false };

export class FramePlc {
  readonly counters = new DiagnosticCounters();
  private readonly image = new Float64Array(MSU_TAGS.length).fill(NaN);
  private agentRequests = 0;
  /** times of recent frames addressed to the unit (load of the PLC) */
  private readonly recent: number[] = [];
  /** deterministic jitter (the simulators' seeded generator), so an evaluation always prints the same table */
  private readonly jitter = createRng(4).next;

  /** One captured frame reaches the PLC (queries) or leaves it (responses). */
  apply(f: Frame): void {
    if (f.query) {
      this.counters.busMessages++;
      if (f.address !== UNIT && f.address !== 0) return;
      this.counters.serverMessages++;
      this.recent.push(f.ts);
      if (f.address === 0) this.counters.noResponse++;
      if (f.fc === 16 && f.params && f.address === UNIT) for (let i = 0; i < f.params.length; i++) this.image[i] = f.params[i];
      return;
    }
    if (f.fc >= 128) this.counters.exceptions++;
    if (f.fc === 3 && f.pressure !== undefined) this.image[MSU_TAGS.length - 1] = f.pressure;
  }

  /** The agent's poll at time ts: its samples, then a diagnostics fact, then the link fact. */
  poll(ts: number, s: PollerSettings): { samples: Sample[]; facts: Fact[] } {
    while (this.recent.length > 0 && this.recent[0] <= ts - 1000) this.recent.shift();
    // Response time: a base and jitter; modelled: plus a share per frame handled in the last second.
    const rtt = 8 + (s.rtt_model ? 3 * this.recent.length : 0) + 2 * this.jitter();
    const own = s.reads_per_poll + s.counter_reads;
    this.agentRequests += own;
    this.counters.busMessages += own;
    this.counters.serverMessages += own;
    const samples: Sample[] = MSU_TAGS.map((tag, i) => {
      const v = this.image[i];
      return v === v ? { device: MSU_DEVICE, tag, value: v, quality: 'good', ts, rtt_ms: rtt } : { device: MSU_DEVICE, tag, value: null, quality: 'bad', ts, rtt_ms: rtt, reason: 'not written yet' };
    });
    const c = this.counters;
    const facts: Fact[] = [
      {
        device: MSU_DEVICE,
        kind: 'diagnostics',
        ts: ts + 5,
        data: {
          bus_message_count: c.busMessages & 0xffff,
          bus_comm_error_count: c.busCommErrors & 0xffff,
          bus_exception_error_count: c.exceptions & 0xffff,
          server_message_count: c.serverMessages & 0xffff,
          server_no_response_count: c.noResponse & 0xffff,
          agent_requests_total: this.agentRequests,
          agent_exception_answers_total: 0,
        },
      },
      { device: MSU_DEVICE, kind: 'link', ts, data: { reachable: true, rtt_ms: Math.round(rtt * 10) / 10, exception_codes: [], bad_responses: 0, consecutive_failures: 0 } },
    ];
    return { samples, facts };
  }
}

/**
 * Polls of the PLC from `from` to `to` (capture time), the frames in between applied first.
 * keep(frame) decides which frames happen at all (only the labelled upper bound drops attacks).
 */
export function* pollFrames(frames: readonly Frame[], plc: FramePlc, from: number, to: number, keep: (f: Frame) => boolean, s: PollerSettings = MSU_POLLING): Generator<Cycle & { samples: Sample[]; facts: Fact[] }> {
  let i = 0;
  while (i < frames.length && frames[i].ts < from) i++;
  for (let t = from; t < to; t += s.poll_ms) {
    while (i < frames.length && frames[i].ts <= t) {
      if (keep(frames[i])) plc.apply(frames[i]);
      i++;
    }
    yield { device: MSU_DEVICE, ts: t, skipped_cycles: 0, ...plc.poll(t, s) };
  }
}
