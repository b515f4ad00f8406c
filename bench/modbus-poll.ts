// Modbus polling benchmark: requests per cycle (planned vs one per tag), throughput ceiling through
// poll + decode, and a sustained paced load counting cycles on time vs late. Prints nothing.
//
// CPU figures are process.cpuUsage() of this process: if the simulators run in the same process,
// their work is included (start them in a child process to measure the agent side alone).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ModbusDeviceConfig } from '../protocols/modbus/config.js';
import { ModbusPoller } from '../protocols/modbus/poller.js';
import type { PollErrorCode } from '../protocols/types.js';

export interface ModbusPollBenchOptions {
  /** devices pointed at running simulators */
  devices: ModbusDeviceConfig[];
  /** length of the throughput phase: every device polls back to back (0 = skip) */
  ceilingMs?: number;
  /** length of the paced phase: every device polls each interval (0 = skip) */
  sustainedMs?: number;
  /** poll interval of the paced phase; default each device's interval_ms (the smallest is reported) */
  intervalMs?: number;
  /**
   * paced phase: 'spread' staggers the devices evenly over the interval (one wakeup per poll),
   * 'aligned' ticks all devices together (their requests and answers share event loop turns).
   * Default 'aligned'.
   */
  phase?: 'aligned' | 'spread';
  /** untimed polls per device before measuring (connect, JIT warm-up) */
  warmupPolls?: number;
  logger?: Logger;
}

export interface PlanFigures {
  devices: number;
  tags: number;
  /** requests one cycle of all devices sends with the planner */
  requestsPerCycle: number;
  /** requests one cycle would need with one request per tag */
  naiveRequestsPerCycle: number;
  /** registers (FC03/04) and bits (FC01/02) one cycle reads, gap fill included */
  registersPerCycle: number;
  bitsPerCycle: number;
}

export interface LoadFigures {
  durationS: number;
  polls: number;
  requests: number;
  samples: number;
  badSamples: number;
  requestsPerS: number;
  samplesPerS: number;
  registersPerS: number;
  cpuSPerS: number;
  cpuUsPerRequest: number;
  rssMbMax: number;
  heapMbMax: number;
  errors: Partial<Record<PollErrorCode, number>>;
}

export interface SustainedFigures extends LoadFigures {
  intervalMs: number;
  phase: 'aligned' | 'spread';
  /** cycles (one poll of one device) that finished before their next tick */
  cyclesOnTime: number;
  /** cycles that finished after their next tick */
  cyclesLate: number;
  /** ticks dropped because the poll before them was still running (no catch-up bursts) */
  cyclesSkipped: number;
  /** how long after its tick a poll started, ms */
  startDelayP50Ms: number;
  startDelayP99Ms: number;
  pollDurationP50Ms: number;
  pollDurationP99Ms: number;
  pollDurationMaxMs: number;
}

export interface ModbusPollBenchResult {
  plan: PlanFigures;
  ceiling?: LoadFigures;
  sustained?: SustainedFigures;
}

export async function runModbusPollBench(opts: ModbusPollBenchOptions): Promise<ModbusPollBenchResult> {
  const pollers = opts.devices.map((d) => new ModbusPoller(d, { logger: opts.logger }));
  try {
    const result: ModbusPollBenchResult = { plan: planFigures(pollers) };
    await Promise.all(pollers.map((p) => p.connect()));
    const warm = opts.warmupPolls ?? 20;
    await Promise.all(pollers.map(async (p) => {
      for (let i = 0; i < warm; i++) await p.poll();
    }));
    if ((opts.ceilingMs ?? 0) > 0) result.ceiling = await ceiling(pollers, opts.ceilingMs!);
    if ((opts.sustainedMs ?? 0) > 0) {
      const intervals = opts.devices.map((d) => opts.intervalMs ?? d.interval_ms);
      result.sustained = await sustained(pollers, intervals, opts.sustainedMs!, opts.phase ?? 'aligned');
    }
    return result;
  } finally {
    await Promise.all(pollers.map((p) => p.close()));
  }
}

function planFigures(pollers: ModbusPoller[]): PlanFigures {
  let tags = 0;
  let requests = 0;
  let registers = 0;
  let bits = 0;
  for (const p of pollers) {
    requests += p.requestsPerPoll;
    for (const r of p.plan) {
      tags += r.items.length;
      if (r.functionCode <= 2) bits += r.quantity;
      else registers += r.quantity;
    }
  }
  return { devices: pollers.length, tags, requestsPerCycle: requests, naiveRequestsPerCycle: tags, registersPerCycle: registers, bitsPerCycle: bits };
}

/** Counters shared by both phases. */
class Meter {
  polls = 0;
  requests = 0;
  samples = 0;
  badSamples = 0;
  registers = 0;
  rssMax = 0;
  heapMax = 0;
  errors: Partial<Record<PollErrorCode, number>> = {};
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();
  private readonly memTimer = setInterval(() => this.sampleMemory(), 100);

  add(p: ModbusPoller, r: Awaited<ReturnType<ModbusPoller['poll']>>): void {
    this.polls++;
    this.requests += r.requests;
    this.samples += r.samples.length;
    for (const s of r.samples) if (s.quality !== 'good') this.badSamples++;
    for (const e of r.errors) this.errors[e.code] = (this.errors[e.code] ?? 0) + 1;
    if (r.errors.length === 0) for (const q of p.plan) if (q.functionCode >= 3) this.registers += q.quantity;
  }

  private sampleMemory(): void {
    const m = process.memoryUsage();
    this.rssMax = Math.max(this.rssMax, m.rss);
    this.heapMax = Math.max(this.heapMax, m.heapUsed);
  }

  finish(): LoadFigures {
    clearInterval(this.memTimer);
    this.sampleMemory();
    const dt = (performance.now() - this.t0) / 1000;
    const cpu = process.cpuUsage(this.cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    return {
      durationS: round(dt, 3),
      polls: this.polls,
      requests: this.requests,
      samples: this.samples,
      badSamples: this.badSamples,
      requestsPerS: Math.round(this.requests / dt),
      samplesPerS: Math.round(this.samples / dt),
      registersPerS: Math.round(this.registers / dt),
      cpuSPerS: round(cpuS / dt, 4),
      cpuUsPerRequest: this.requests ? round((cpuS * 1e6) / this.requests, 1) : 0,
      rssMbMax: round(this.rssMax / 1e6, 1),
      heapMbMax: round(this.heapMax / 1e6, 1),
      errors: this.errors,
    };
  }
}

async function ceiling(pollers: ModbusPoller[], ms: number): Promise<LoadFigures> {
  const meter = new Meter();
  const end = performance.now() + ms;
  await Promise.all(
    pollers.map(async (p) => {
      while (performance.now() < end) meter.add(p, await p.poll());
    }),
  );
  return meter.finish();
}

async function sustained(pollers: ModbusPoller[], intervals: number[], ms: number, phase: 'aligned' | 'spread'): Promise<SustainedFigures> {
  const meter = new Meter();
  const startDelays: number[] = [];
  const durations: number[] = [];
  let onTime = 0;
  let late = 0;
  let skipped = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    pollers.map(async (p, i) => {
      const every = intervals[i];
      let tick = phase === 'spread' ? t0 + (every * i) / pollers.length : t0;
      while (tick < end) {
        const wait = tick - performance.now();
        if (wait > 0) await sleep(Math.ceil(wait));
        const started = performance.now();
        startDelays.push(started - tick);
        meter.add(p, await p.poll());
        const done = performance.now();
        durations.push(done - started);
        if (done <= tick + every) onTime++;
        else late++;
        tick += every;
        // A late cycle does not try to catch up with a burst: skip to the next tick ahead.
        while (tick < done) {
          tick += every;
          skipped++;
        }
      }
    }),
  );
  const f = meter.finish();
  return {
    ...f,
    intervalMs: Math.min(...intervals),
    phase,
    cyclesOnTime: onTime,
    cyclesLate: late,
    cyclesSkipped: skipped,
    startDelayP50Ms: round(pct(startDelays, 0.5), 3),
    startDelayP99Ms: round(pct(startDelays, 0.99), 3),
    pollDurationP50Ms: round(pct(durations, 0.5), 3),
    pollDurationP99Ms: round(pct(durations, 0.99), 3),
    pollDurationMaxMs: round(pct(durations, 1), 3),
  };
}

function pct(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
