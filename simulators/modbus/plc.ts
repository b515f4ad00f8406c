// One simulated PLC: register image, process model on its own tick, Modbus unit, TCP server, and the
// hooks attack scenarios use (reading overrides, response filters, delays, timers, offline).
import type { Logger } from '../../protocols/log.js';
import { DiagnosticCounters } from './diagnostics.js';
import type { FrameErrorKind, Framing } from './framing.js';
import type { Identity } from './identity.js';
import { RegisterImage } from './image.js';
import { createModel, type ModelType, type ProcessModel } from './models/index.js';
import type { ModelIo } from './models/types.js';
import { handleFrame, type ModbusUnit } from './pdu.js';
import { createRng, type Rng } from './rng.js';
import { ModbusServer, type ServerEndpoint } from './server.js';
import { findTag, readTag, writeTag, type TagDef } from './tags.js';
import type { PlcConfig } from './config.js';

export interface PlcInfo {
  id: string;
  host: string;
  port: number;
  framing: Framing;
  unit_id: number;
  model: ModelType;
}

export type ReadingOverride = (value: number, timeMs: number) => number;
export type ResponseFilter = (adu: Buffer, framing: Framing) => Buffer | null;

export class Plc implements ModbusUnit, ServerEndpoint {
  readonly id: string;
  readonly unitId: number;
  readonly image: RegisterImage;
  readonly counters = new DiagnosticCounters();
  readonly model: ProcessModel;
  identity: Identity;
  listenOnly = false;
  /** plant time in ms: the sum of every step */
  timeMs = 0;
  private readonly server: ModbusServer;
  private readonly overrides = new Map<string, ReadingOverride[]>();
  private filters: ResponseFilter[] = [];
  private watchers: Array<(unitId: number, pdu: Buffer) => void> = [];
  private delays: Array<{ ms: number }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** timers of a PLC a test drives with step(): due on plant time */
  private plantTimers: Array<{ every: number; due: number; fn: () => void }> = [];
  private ticker: NodeJS.Timeout | null = null;
  private readonly io: ModelIo;
  private readonly seed: number;

  constructor(
    readonly config: PlcConfig,
    readonly logger: Logger,
  ) {
    this.id = config.id;
    this.unitId = config.unit_id;
    this.seed = config.seed;
    this.model = createModel(config.model, createRng(config.seed));
    this.image = new RegisterImage(this.model.sizes);
    this.identity = { ...this.model.defaultIdentity, ...config.identity };
    this.io = { image: this.image, report: (tag, value) => this.report(tag, value) };
    this.model.init(this.io);
    this.server = new ModbusServer(
      {
        host: config.host,
        port: config.port,
        framing: config.framing,
        max_connections: config.max_connections,
        rtu_silence_ms: config.rtu_silence_ms,
        logger,
      },
      this,
    );
  }

  info(): PlcInfo {
    const c = this.config;
    return { id: c.id, host: c.host, port: this.server.port, framing: c.framing, unit_id: c.unit_id, model: this.model.type };
  }

  get port(): number {
    return this.server.port;
  }

  get connectionCount(): number {
    return this.server.connectionCount;
  }

  get offline(): boolean {
    return this.server.isOffline;
  }

  /** Listen and start the process clock. */
  async start(): Promise<void> {
    await this.server.listen();
    this.ticker = setInterval(() => this.step(this.config.tick_ms), this.config.tick_ms);
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    this.plantTimers = [];
    await this.server.close();
  }

  /** Advance the plant by ms (the timer does this every tick_ms; tests may call it directly). */
  step(ms: number): void {
    this.timeMs += ms;
    this.model.step(ms, this.io);
    for (const t of this.plantTimers) {
      for (; t.due <= this.timeMs && this.plantTimers.includes(t); t.due += t.every) t.fn();
    }
  }

  tag(name: string): TagDef {
    return findTag(this.model.tags, name);
  }

  /** Engineering value of a tag as the bus sees it (booleans 0/1). */
  readTag(name: string): number {
    return readTag(this.image, this.tag(name));
  }

  /** Write a tag straight into the image, past the PLC program's write check. */
  writeTag(name: string, value: number): void {
    writeTag(this.image, this.tag(name), value);
  }

  /** A request from another master on the same bus: counted and executed like a frame from the wire. */
  request(pdu: Buffer, unitId = this.unitId): Buffer | null {
    return handleFrame(this, unitId, pdu);
  }

  /** A random stream for a scenario, independent of the plant's noise. */
  scenarioRng(salt: number): Rng {
    return createRng(this.seed).fork(salt);
  }

  /** Report `fn(true value)` instead of the true value of a reading; returns the undo. */
  overrideReading(tag: string, fn: ReadingOverride): () => void {
    this.tag(tag);
    const list = this.overrides.get(tag) ?? [];
    list.push(fn);
    this.overrides.set(tag, list);
    return () => {
      const l = this.overrides.get(tag);
      if (!l) return;
      const i = l.indexOf(fn);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.overrides.delete(tag);
    };
  }

  /** Replace the response delay while active; returns the undo. */
  overrideDelay(ms: number): () => void {
    const entry = { ms };
    this.delays = [...this.delays, entry];
    return () => {
      this.delays = this.delays.filter((d) => d !== entry);
    };
  }

  /** Pass every response through fn (corrupt or drop it); returns the undo. */
  addResponseFilter(fn: ResponseFilter): () => void {
    this.filters = [...this.filters, fn];
    return () => {
      this.filters = this.filters.filter((f) => f !== fn);
    };
  }

  /** Call fn with every request frame that arrives from the wire (tests: what a master sent); returns the undo. */
  onRequest(fn: (unitId: number, pdu: Buffer) => void): () => void {
    this.watchers = [...this.watchers, fn];
    return () => {
      this.watchers = this.watchers.filter((w) => w !== fn);
    };
  }

  /**
   * A repeating timer owned by the PLC (cleared when it stops); returns the cancel. On the wall
   * clock while the PLC runs its own ticker (start()); on plant time, fired by step(), when a
   * test drives a PLC that was not started (a virtual clock).
   */
  every(ms: number, fn: () => void): () => void {
    if (!this.ticker) {
      const entry = { every: ms, due: this.timeMs + ms, fn };
      this.plantTimers = [...this.plantTimers, entry];
      return () => {
        this.plantTimers = this.plantTimers.filter((x) => x !== entry);
      };
    }
    const t = setInterval(fn, ms);
    this.timers.add(t);
    return () => {
      clearInterval(t);
      this.timers.delete(t);
    };
  }

  /** Offline: connections dropped and refused. Online: listening again on the same port. */
  async setOffline(offline: boolean): Promise<void> {
    await this.server.setOffline(offline);
    this.logger.info({ offline }, offline ? 'PLC went offline.' : 'PLC is back online.');
  }

  // --- ServerEndpoint ---

  handleFrame(unitId: number, pdu: Buffer): Buffer | null {
    for (const w of this.watchers) w(unitId, pdu);
    return handleFrame(this, unitId, pdu);
  }

  frameError(kind: FrameErrorKind): void {
    if (kind === 'overrun') this.counters.overruns++;
    else this.counters.busCommErrors++;
  }

  responseDelayMs(): number {
    return this.delays.length ? this.delays[this.delays.length - 1].ms : this.config.response_delay_ms;
  }

  transformResponse(adu: Buffer, framing: Framing): Buffer | null {
    let out: Buffer | null = adu;
    for (const f of this.filters) {
      if (!out) break;
      out = f(out, framing);
    }
    return out;
  }

  private report(tag: TagDef, value: number): number {
    const list = this.overrides.get(tag.name);
    if (list) value = list[list.length - 1](value, this.timeMs);
    writeTag(this.image, tag, value);
    return value;
  }
}
