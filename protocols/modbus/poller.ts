// The read-only Modbus poller of one device: plan once, then per poll read each planned request,
// decode straight from the answer, and report failures as PollErrors with stable codes.
//
// One request is in flight per device at any time: poll() and readFacts() queue behind each
// other. poll() never throws; a device that is down yields bad samples and errors. It exposes no
// way to write: the links only carry read requests (see allowlist.ts).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Fact, PollError, PollResult, Poller, Sample } from '../types.js';
import { pause, watchAbort } from './abort.js';
import type { ModbusDeviceConfig } from './config.js';
import { badNumberReason, decodeValue } from './decode.js';
import { ModbusError, asModbusError, isRetryable } from './errors.js';
import { readDiagnostics, readIdentity } from './facts.js';
import type { ModbusLink } from './link.js';
import { planRequests, type PlannedRequest } from './planner.js';
import { ModbusSerialLink } from './modbus-serial-link.js';
import { rtuSerialLink } from './rtu-serial.js';
import { tcpLink } from './tcp-link.js';

export interface ModbusPollerContext {
  logger?: Logger;
  /** use this link instead of one built from the transport config (tests) */
  link?: ModbusLink;
  /** wall clock for sample and fact timestamps (epoch ms) */
  now?: () => number;
  /** monotonic ms for round-trip times, pacing and fact rechecks (tests run it on a virtual clock) */
  monotonic?: () => number;
}

/** Build the link for a device's transport. */
export function createLink(dev: ModbusDeviceConfig): ModbusLink {
  const t = dev.transport;
  const opts = { unitId: dev.unit_id, timeoutMs: dev.timeout_ms };
  if (t.type === 'tcp' && t.client === 'modbus-serial') return new ModbusSerialLink(t.host, t.port, opts);
  if (t.type === 'tcp') return tcpLink({ ...opts, host: t.host, port: t.port, framing: 'mbap' });
  if (t.type === 'rtu_over_tcp') return tcpLink({ ...opts, host: t.host, port: t.port, framing: 'rtu' });
  return rtuSerialLink({ path: t.path, baudRate: t.baud_rate, dataBits: t.data_bits, stopBits: t.stop_bits, parity: t.parity }, opts);
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Errors of an FC43/FC08 read that mean "this device does not do that": an exception, silence, a
 * garbled answer, or a dropped connection (some PLCs reset the connection on an unknown function
 * code; asking again after every reconnect would loop).
 */
function refusesFacts(err: ModbusError): boolean {
  return err.code === 'timeout' || err.code === 'modbus_exception' || err.code === 'bad_response' || err.code === 'connection_lost';
}

export class ModbusPoller implements Poller {
  readonly device: string;
  readonly requestsPerPoll: number;
  readonly plan: readonly PlannedRequest[];

  private readonly cfg: ModbusDeviceConfig;
  private readonly link: ModbusLink;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private readonly mono: () => number;
  private queue: Promise<unknown> = Promise.resolve();
  private requestsSent = 0;
  private exceptionAnswers = 0;
  private lastAnswerAt = -Infinity;
  private lastRtt = 0;
  private wasConnected = false;
  /** a request succeeded since the last connection loss (logs a loss at warn only once) */
  private healthy = false;
  private identityRecheckAt = 0;
  private diagnosticsRecheckAt = 0;
  private readonly abortLink = (): void => this.link.abort();
  // Per-cycle sample storage, refilled by every poll (see PollResult.samples): one Sample per
  // planned tag, made once, so a poll allocates no sample objects and nothing piles up for the GC.
  private readonly pool: Sample[];
  /** index in pool of each request's first tag */
  private readonly firstOf: number[];
  private readonly samples: Sample[] = [];
  private filled = 0;

  /** Throws PlanError when the tags cannot be read (static config error). */
  constructor(cfg: ModbusDeviceConfig, ctx: ModbusPollerContext = {}) {
    this.cfg = cfg;
    this.device = cfg.id;
    this.plan = planRequests(cfg.tags, cfg);
    this.requestsPerPoll = this.plan.length;
    this.pool = [];
    this.firstOf = [];
    for (const req of this.plan) {
      this.firstOf.push(this.pool.length);
      for (const it of req.items) this.pool.push({ device: cfg.id, tag: it.name, value: null, quality: 'bad', ts: 0, rtt_ms: 0, reason: undefined });
    }
    this.link = ctx.link ?? createLink(cfg);
    this.log = ctx.logger?.child({ device: cfg.id, link: this.link.describe });
    this.now = ctx.now ?? Date.now;
    this.mono = ctx.monotonic ?? (() => performance.now());
    this.link.onLost = (err) => {
      this.wasConnected = false;
      const fields = { error_code: (err as ModbusError).code, err: err.message };
      // A device that drops every connection would otherwise log a warning every cycle.
      if (this.healthy) this.log?.warn(fields, 'Connection to the device was lost.');
      else this.log?.debug(fields, 'Connection to the device was lost again.');
      this.healthy = false;
    };
  }

  /** Errors of attempts that were retried, collected into the running poll's result. */
  private retriedErrors: PollError[] | undefined;
  /** Requests sent to the device since this poller was created (retries and facts included). */
  get requestsTotal(): number {
    return this.requestsSent;
  }

  isConnected(): boolean {
    return this.link.isOpen();
  }

  async connect(signal?: AbortSignal): Promise<void> {
    await this.link.open(signal);
    if (!this.wasConnected) this.log?.debug('Connected to the device.');
    this.wasConnected = true;
  }

  close(): Promise<void> {
    this.wasConnected = false;
    return this.link.close();
  }

  poll(signal?: AbortSignal): Promise<PollResult> {
    return this.exclusive(() => this.pollNow(signal));
  }

  readFacts(kinds: ReadonlyArray<'identity' | 'diagnostics'>, signal?: AbortSignal): Promise<Fact[]> {
    return this.exclusive(() => this.factsNow(kinds, signal));
  }

  /** Run one job at a time, in call order, so only one request is ever in flight. */
  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async pollNow(signal?: AbortSignal): Promise<PollResult> {
    try {
      return await this.pollPlan(signal);
    } catch (e) {
      // Not expected: every request error is caught below. Still, poll() never throws.
      const err = asModbusError(e);
      this.log?.error({ err: err.message }, 'Poll failed unexpectedly.');
      return { samples: [], facts: [], requests: 0, errors: [{ code: 'unknown', message: err.message }] };
    }
  }

  private async pollPlan(signal?: AbortSignal): Promise<PollResult> {
    const result: PollResult = { samples: this.samples, facts: [], requests: 0, errors: [] };
    const startReqs = this.requestsSent;
    this.retriedErrors = result.errors;
    this.filled = 0;
    const failedConnect = this.link.isOpen() ? null : await this.ensureConnected(signal);
    if (failedConnect) {
      for (let i = 0; i < this.plan.length; i++) this.badSamples(i, failedConnect, 0);
      this.samples.length = this.filled;
      result.errors.push(failedConnect.toPollError());
      return result;
    }
    const unwatch = watchAbort(signal, this.abortLink);
    try {
      for (let i = 0; i < this.plan.length; i++) {
        const req = this.plan[i];
        if (signal?.aborted) {
          result.errors.push({ code: 'aborted', message: `poll aborted before ${this.plan.length - i} of ${this.plan.length} requests` });
          break;
        }
        const t0 = this.mono();
        try {
          const res = await this.ask(req.pdu, this.cfg.retries, signal);
          this.decode(i, res);
        } catch (e) {
          const err = asModbusError(e);
          if (err.code === 'aborted') {
            result.errors.push(err.toPollError());
            break;
          }
          this.badSamples(i, err, round3(this.mono() - t0));
          result.errors.push(err.toPollError());
          if (err.code === 'connection_lost' || err.code === 'not_connected') {
            // The rest of this cycle cannot be read; the next poll reconnects.
            for (let j = i + 1; j < this.plan.length; j++) this.badSamples(j, err, 0);
            break;
          }
        }
      }
    } finally {
      unwatch();
    }
    this.samples.length = this.filled;
    result.requests = this.requestsSent - startReqs;
    this.retriedErrors = undefined;
    return result;
  }

  /** Connect if needed; the error when that failed, else null. */
  private async ensureConnected(signal?: AbortSignal): Promise<ModbusError | null> {
    if (this.link.isOpen()) return null;
    try {
      await this.connect(signal);
      return null;
    } catch (e) {
      const err = asModbusError(e);
      this.log?.debug({ error_code: err.code, err: err.message }, 'Cannot connect to the device.');
      return err;
    }
  }

  /** Send one request with pacing and retries; rtt of the answered attempt in this.lastRtt. */
  private async ask(pdu: Buffer, retries: number, signal?: AbortSignal): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const gap = this.cfg.pause_between_requests_ms;
      if (gap > 0) {
        const wait = this.lastAnswerAt + gap - this.mono();
        if (wait > 0) await pause(wait, signal);
      }
      if (signal?.aborted) throw new ModbusError('aborted', 'poll aborted');
      const t0 = this.mono();
      this.requestsSent++;
      try {
        const res = await this.link.exchange(pdu);
        this.lastAnswerAt = this.mono();
        this.lastRtt = this.lastAnswerAt - t0;
        this.healthy = true;
        return res;
      } catch (e) {
        this.lastAnswerAt = this.mono();
        const err = asModbusError(e);
        if (err.code === 'modbus_exception') this.exceptionAnswers++;
        if (attempt >= retries || !isRetryable(err) || signal?.aborted) throw err;
        // A retry that succeeds must not hide what the device did (garbage, exceptions, timeouts).
        this.retriedErrors?.push({ ...err.toPollError(), retried: true });
        this.log?.debug({ error_code: err.code, err: err.message, attempt: attempt + 1 }, 'Request failed; retrying.');
      }
    }
  }

  /** Fill the pooled samples of request i from its answer. */
  private decode(i: number, res: Buffer): void {
    const ts = this.now();
    const rtt = round3(this.lastRtt);
    const items = this.plan[i].items;
    const pool = this.pool;
    const out = this.samples;
    let k = this.firstOf[i];
    for (let j = 0; j < items.length; j++, k++) {
      const it = items[j];
      const s = pool[k];
      const value = decodeValue(res, 2, it.index, it.codec, it.bit, it.scale, it.offset);
      if (typeof value === 'number' && !Number.isFinite(value)) {
        s.value = null;
        s.quality = 'bad';
        s.reason = badNumberReason(value);
      } else {
        s.value = value;
        s.quality = 'good';
        s.reason = undefined;
      }
      s.ts = ts;
      s.rtt_ms = rtt;
      out[this.filled++] = s;
    }
  }

  /** Mark the pooled samples of request i bad with the error's code. */
  private badSamples(i: number, err: PollError, rtt: number): void {
    const ts = this.now();
    const n = this.plan[i].items.length;
    const out = this.samples;
    for (let k = this.firstOf[i], end = k + n; k < end; k++) {
      const s = this.pool[k];
      s.value = null;
      s.quality = 'bad';
      s.reason = err.code;
      s.ts = ts;
      s.rtt_ms = rtt;
      out[this.filled++] = s;
    }
  }

  private async factsNow(kinds: ReadonlyArray<'identity' | 'diagnostics'>, signal?: AbortSignal): Promise<Fact[]> {
    const facts: Fact[] = [];
    const wantId = kinds.includes('identity') && this.mono() >= this.identityRecheckAt;
    const wantDiag = kinds.includes('diagnostics') && this.mono() >= this.diagnosticsRecheckAt;
    if (!wantId && !wantDiag) return facts;
    if (await this.ensureConnected(signal)) return facts;
    // No retries for facts: a device that ignores FC43/FC08 should cost one timeout, not several.
    const ask = (pdu: Buffer): Promise<Buffer> => this.ask(pdu, 0, signal);
    const unwatch = watchAbort(signal, this.abortLink);
    try {
      if (wantId) {
        try {
          facts.push({ device: this.device, kind: 'identity', ts: this.now(), data: { ...(await readIdentity(ask)) } });
        } catch (e) {
          const err = asModbusError(e);
          if (refusesFacts(err)) this.identityRecheckAt = this.mono() + this.cfg.unsupported_recheck_ms;
          this.log?.debug({ error_code: err.code, err: err.message }, 'No device identification (FC43).');
        }
      }
      if (wantDiag && this.link.isOpen() && !signal?.aborted) {
        try {
          const d = await readDiagnostics(ask, () => this.requestsSent, this.cfg.diagnostics_counters);
          if (d.unsupported) {
            this.diagnosticsRecheckAt = this.mono() + this.cfg.unsupported_recheck_ms;
            this.log?.debug('The device does not answer FC08 diagnostics.');
          } else if (Object.keys(d.counters).length > 0) {
            const data = {
              ...d.counters,
              agent_requests_total: d.requestsAtServerCount ?? this.requestsSent,
              agent_exception_answers_total: this.exceptionAnswers,
            };
            facts.push({ device: this.device, kind: 'diagnostics', ts: this.now(), data });
          }
        } catch (e) {
          const err = asModbusError(e);
          if (refusesFacts(err)) this.diagnosticsRecheckAt = this.mono() + this.cfg.unsupported_recheck_ms;
          this.log?.debug({ error_code: err.code, err: err.message }, 'Diagnostics read failed.');
        }
      }
    } finally {
      unwatch();
    }
    return facts;
  }
}

/** Factory for the protocol registry. */
export function createModbusPoller(device: ModbusDeviceConfig, ctx: ModbusPollerContext = {}): Poller {
  return new ModbusPoller(device, ctx);
}
