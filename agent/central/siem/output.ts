// One SIEM output: reads signals and findings beyond its cursors from the store, in bounded
// batches, and writes them as RFC 5424 + CEF frames to its collector. Delivery is at least once:
// a batch counts as delivered once its bytes were flushed to the socket and the connection then
// stayed up for confirm_ms (or the collector closed cleanly after reading up to our FIN); only
// then does the cursor in the store advance. A drop sooner resends from the last confirmed event,
// in order. The feed only wakes the loop; the store is the source of truth.
import type { Logger } from '../../../protocols/log.js';
import { severityRank } from '../../../rules/signal.js';
import { Backoff } from '../../forward/backoff.js';
import type { CentralFeed } from '../feed.js';
import type { CentralStore, StoredFinding, StoredSignal } from '../store/types.js';
import type { SyslogOutputConfig } from './config.js';
import { SyslogConnection, type ConnectOptions } from './connection.js';
import { explainSiemError } from './errors.js';
import { findingEvent, parseDeviceAddress, signalEvent, type DeviceAddress } from './events.js';
import { render, type RenderContext } from './render.js';

export interface Position {
  /** signal arrival number */
  signals: number;
  /** finding id */
  findings: number;
}

export interface OutputStats {
  name: string;
  connected: boolean;
  /** events written (resends included) and their bytes */
  sent: number;
  bytes: number;
  /** events written again after a drop before their confirmation */
  resent: number;
  disconnects: number;
  confirmed: Position;
  last_error?: { code: string; message: string };
}

export interface OutputDeps {
  cfg: SyslogOutputConfig;
  index: number;
  store: CentralStore;
  feed?: CentralFeed;
  log: Logger;
  render: Omit<RenderContext, 'cfg'>;
  /** central.id: dvchost of central's own findings */
  central: string;
  connect: ConnectOptions;
}

const ASSETS_TTL_MS = 30_000;

/** A write to the collector failed (as opposed to a store read or cursor write). */
class WriteFailure extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

export function cursorNames(name: string): { signals: string; findings: string; started: string } {
  return { signals: `siem:${name}`, findings: `siem:${name}:findings`, started: `siem:${name}:started` };
}

export class SiemOutput {
  private readonly cfg: SyslogOutputConfig;
  private readonly names: ReturnType<typeof cursorNames>;
  private readonly backoff: Backoff;
  private running = false;
  private loop?: Promise<void>;
  private conn?: SyslogConnection;
  private wake?: () => void;
  /** set by a wake-up: something may be new, read before sleeping */
  private dirty = true;
  /** confirmations run one at a time, so cursor writes never go backwards */
  private confirming: Promise<void> = Promise.resolve();
  private confirmTimer?: NodeJS.Timeout;
  /** written on the current connection */
  private sentPos: Position = { signals: 0, findings: 0 };
  /** persisted in the store */
  private confirmedPos: Position = { signals: 0, findings: 0 };
  /** written, waiting for confirm_ms of a healthy connection */
  private pending: Array<{ pos: Position; at: number; events: number }> = [];
  /** highest position ever written, to count resends */
  private highWater: Position = { signals: 0, findings: 0 };
  private downSince?: number;
  /** the last connection ended by an idle close of the collector: the next connect logs at debug */
  private idleClosed = false;
  private readonly assets = new Map<string, { at: number; devices: Map<string, DeviceAddress> }>();
  private readonly listeners: Array<() => void> = [];
  private readonly aborter = new AbortController();
  readonly stats: OutputStats;

  constructor(private readonly d: OutputDeps) {
    this.cfg = d.cfg;
    this.names = cursorNames(d.cfg.name);
    this.backoff = new Backoff(d.cfg.reconnect_min_ms, d.cfg.reconnect_max_ms);
    this.stats = { name: d.cfg.name, connected: false, sent: 0, bytes: 0, resent: 0, disconnects: 0, confirmed: this.confirmedPos };
  }

  get where(): string {
    return `siem[${this.d.index}] (${this.cfg.name}) at ${this.cfg.host}:${this.cfg.port}${this.cfg.tls ? ' (TLS)' : ''}`;
  }

  async start(): Promise<void> {
    await this.loadCursors();
    this.running = true;
    const poke = () => {
      this.dirty = true;
      this.wake?.();
    };
    const onAssets = (a: { site: string; agent: string }) => this.assets.delete(`${a.site}/${a.agent}`);
    if (this.d.feed) {
      if (this.cfg.signals) this.d.feed.on('signal', poke);
      if (this.cfg.findings) this.d.feed.on('finding', poke);
      this.d.feed.on('assets', onAssets);
      this.listeners.push(() => {
        this.d.feed!.off('signal', poke);
        this.d.feed!.off('finding', poke);
        this.d.feed!.off('assets', onAssets);
      });
    }
    this.loop = this.run().catch((e) => this.d.log.error({ err: e, output: this.cfg.name }, `SIEM output ${this.cfg.name} stopped on an unexpected error: ${(e as Error).message}.`));
  }

  /** Stop reading, end the connection gracefully, and keep the cursor of what was confirmed. */
  async stop(timeout_ms = 2000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const off of this.listeners.splice(0)) off();
    this.aborter.abort();
    this.wake?.();
    await this.loop;
    clearTimeout(this.confirmTimer);
    await this.confirming;
    const conn = this.conn;
    this.conn = undefined;
    // A clean close means the collector read everything up to our FIN: all of it is confirmed.
    // Otherwise what is unconfirmed is sent again after the restart (at least once).
    if (conn && (await conn.end(timeout_ms))) await this.confirm(Infinity, true);
    this.stats.connected = false;
  }

  private async loadCursors(): Promise<void> {
    const s = this.d.store;
    let pos: Position = { signals: await s.getCursor(this.names.signals), findings: await s.getCursor(this.names.findings) };
    if ((await s.getCursor(this.names.started)) === 0) {
      if (this.cfg.start_at === 'newest') {
        pos = { signals: (await s.listSignals({ limit: 1 }))[0]?.arrival ?? 0, findings: (await s.listFindings({ limit: 1 }))[0]?.id ?? 0 };
        await s.setCursor(this.names.signals, pos.signals);
        await s.setCursor(this.names.findings, pos.findings);
      }
      await s.setCursor(this.names.started, 1);
    }
    this.confirmedPos = { ...pos };
    this.stats.confirmed = this.confirmedPos;
    this.sentPos = { ...pos };
    this.highWater = { ...pos };
  }

  async backlog(): Promise<number> {
    const s = this.d.store;
    return (this.cfg.signals ? await s.countSignalsAfter(this.confirmedPos.signals) : 0) + (this.cfg.findings ? await s.countFindingsAfter(this.confirmedPos.findings) : 0);
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.conn && this.idleClosed) {
        // After an idle close, connect again only when there is something to send.
        this.dirty = false;
        let work = true;
        try {
          work = await this.hasWork();
        } catch (e) {
          await this.storeTrouble(e);
          continue;
        }
        if (!work) {
          if (this.running && !this.dirty) await this.sleep(this.cfg.poll_ms);
          continue;
        }
      }
      if (!this.conn && !(await this.connect())) continue;
      const failure = this.conn!.failure;
      if (failure && this.pending.length === 0 && this.conn!.peerClosedCleanly) {
        // A collector that closes idle connections is not down: reconnect quietly when needed.
        this.conn!.destroy();
        this.conn = undefined;
        this.stats.connected = false;
        this.idleClosed = true;
        this.d.log.debug({ output: this.cfg.name }, `SIEM output ${this.cfg.name}: the collector closed an idle connection; reconnecting.`);
        continue;
      }
      if (failure) {
        await this.down(failure);
        continue;
      }
      let wrote = false;
      this.dirty = false;
      try {
        wrote = await this.sendBatch();
      } catch (e) {
        if (e instanceof WriteFailure) await this.down(e.cause);
        else await this.storeTrouble(e);
        continue;
      }
      if (!wrote && this.running && !this.dirty) await this.sleep(this.cfg.poll_ms);
    }
  }

  private async connect(): Promise<boolean> {
    try {
      const conn = await SyslogConnection.connect(this.d.connect, this.aborter.signal);
      if (!this.running) {
        conn.destroy();
        return false;
      }
      this.conn = conn;
      conn.onClose(() => this.wake?.());
      this.backoff.reset();
      this.idleClosed = false;
      this.stats.connected = true;
      this.stats.last_error = undefined;
      this.sentPos = { ...this.confirmedPos };
      this.dirty = true;
      const backlog = await this.backlog();
      if (this.idleClosed && this.downSince === undefined) {
        this.d.log.debug({ output: this.cfg.name, backlog }, `SIEM output ${this.cfg.name} connected again to ${this.where}.`);
      } else if (this.downSince !== undefined) {
        this.d.log.warn({ output: this.cfg.name, down_ms: Date.now() - this.downSince, backlog }, `SIEM output ${this.cfg.name} is back (${this.where}) after ${((Date.now() - this.downSince) / 1000).toFixed(1)} s; sending a backlog of ${backlog} events.`);
        this.downSince = undefined;
      } else {
        this.d.log.info({ output: this.cfg.name, backlog }, `SIEM output ${this.cfg.name} connected to ${this.where}; ${backlog} events to send.`);
      }
      return true;
    } catch (e) {
      await this.down(e);
      return false;
    }
  }

  /** The connection failed (or never came): forget unconfirmed writes, log once per outage, back off. */
  private async down(e: unknown): Promise<void> {
    const problem = explainSiemError(e, this.where);
    this.conn?.destroy();
    if (this.conn) this.stats.disconnects++;
    this.conn = undefined;
    this.stats.connected = false;
    this.stats.last_error = problem;
    // Writes not yet confirmed may not have reached the collector: resend them from the last confirmed event.
    this.pending = [];
    this.sentPos = { ...this.confirmedPos };
    if (!this.running) return; // stopping: not an outage
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      const backlog = await this.backlog().catch(() => undefined);
      this.d.log.error({ output: this.cfg.name, code: problem.code, backlog }, `SIEM output ${this.cfg.name} is down: ${problem.message} ${backlog ?? 'Some'} events wait in the store and are sent when it is back.`);
    } else {
      this.d.log.debug({ output: this.cfg.name, code: problem.code }, problem.message);
    }
    if (this.running) await this.sleep(this.backoff.next());
  }

  /** The store failed (not the collector): keep the connection, say so, retry after a backoff. */
  private async storeTrouble(e: unknown): Promise<void> {
    this.d.log.warn({ output: this.cfg.name, error_code: 'store_failed', err: (e as Error).message }, `SIEM output ${this.cfg.name} cannot read or update the store (${(e as Error).message}); retrying.`);
    if (this.running) await this.sleep(this.backoff.next());
  }

  private async hasWork(): Promise<boolean> {
    const s = this.d.store;
    return (this.cfg.signals && (await s.signalsAfter(this.sentPos.signals, 1)).length > 0) || (this.cfg.findings && (await s.findingsAfter(this.sentPos.findings, 1)).length > 0);
  }

  /** One bounded batch: read beyond the sent position, render, write, queue for confirmation. */
  private async sendBatch(): Promise<boolean> {
    const s = this.d.store;
    const n = this.cfg.batch_size;
    const signals = this.cfg.signals ? await s.signalsAfter(this.sentPos.signals, n) : [];
    const findings = this.cfg.findings ? await s.findingsAfter(this.sentPos.findings, n) : [];
    if (signals.length === 0 && findings.length === 0) return false;
    const frames = await this.frames(signals, findings);
    const pos: Position = { signals: signals.at(-1)?.arrival ?? this.sentPos.signals, findings: findings.at(-1)?.id ?? this.sentPos.findings };
    const conn = this.conn!;
    if (frames.length > 0) {
      const data = Buffer.concat(frames);
      await conn.write(data).catch((e: unknown) => {
        throw new WriteFailure(e);
      });
      this.stats.sent += frames.length;
      this.stats.bytes += data.length;
      this.stats.resent += signals.filter((x) => x.arrival <= this.highWater.signals).length + findings.filter((f) => f.id <= this.highWater.findings).length;
    }
    this.highWater = { signals: Math.max(this.highWater.signals, pos.signals), findings: Math.max(this.highWater.findings, pos.findings) };
    this.sentPos = pos;
    this.pending.push({ pos, at: Date.now(), events: frames.length });
    await this.confirm(Date.now());
    this.scheduleConfirm();
    return true;
  }

  /** Signals and findings merged by time (each keeps its own order), filtered, rendered. */
  private async frames(signals: StoredSignal[], findings: StoredFinding[]): Promise<Buffer[]> {
    const min = severityRank(this.cfg.min_severity);
    const out: Buffer[] = [];
    let i = 0;
    let j = 0;
    while (i < signals.length || j < findings.length) {
      const takeSignal = j >= findings.length || (i < signals.length && signals[i]!.received_ms <= findings[j]!.ts_ms);
      if (takeSignal) {
        const x = signals[i++]!;
        if (severityRank(x.signal.severity) < min) continue;
        const device = (await this.devices(x.signal.site, x.signal.agent)).get(x.signal.device);
        out.push(render(signalEvent(x, this.d.render.version, device), { ...this.d.render, cfg: this.cfg }));
      } else {
        const f = findings[j++]!;
        if (severityRank(f.severity) < min) continue;
        out.push(render(findingEvent(f, this.d.render.version, this.d.central), { ...this.d.render, cfg: this.cfg }));
      }
    }
    return out;
  }

  /** Device addresses from the agent's retained assets (dst/dhost, dpt), cached for a while. */
  private async devices(site: string, agent: string): Promise<Map<string, DeviceAddress>> {
    const key = `${site}/${agent}`;
    const hit = this.assets.get(key);
    if (hit && Date.now() - hit.at < ASSETS_TTL_MS) return hit.devices;
    const devices = new Map<string, DeviceAddress>();
    const rec = await this.d.store.getAssets(site, agent);
    const list = rec?.payload.devices;
    if (Array.isArray(list)) {
      for (const dev of list as Array<Record<string, unknown>>) {
        const addr = parseDeviceAddress(dev?.address);
        if (typeof dev?.id === 'string' && addr) devices.set(dev.id, addr);
      }
    }
    this.assets.set(key, { at: Date.now(), devices });
    return devices;
  }

  /** Persist the newest pending position whose write is older than confirm_ms on a healthy connection. */
  private confirm(now: number, stopping = false): Promise<void> {
    const p = this.confirming.then(() => this.confirmNow(now, stopping));
    this.confirming = p.catch(() => undefined);
    return p;
  }

  private async confirmNow(now: number, stopping: boolean): Promise<void> {
    if (!stopping && (this.conn === undefined || this.conn.failure !== undefined)) return;
    let last: Position | undefined;
    while (this.pending.length > 0 && now - this.pending[0]!.at >= this.cfg.confirm_ms) last = this.pending.shift()!.pos;
    if (last === undefined) return;
    if (last.signals !== this.confirmedPos.signals) await this.d.store.setCursor(this.names.signals, last.signals);
    if (last.findings !== this.confirmedPos.findings) await this.d.store.setCursor(this.names.findings, last.findings);
    this.confirmedPos = { ...last };
    this.stats.confirmed = this.confirmedPos;
  }

  private scheduleConfirm(): void {
    if (this.confirmTimer !== undefined || this.pending.length === 0 || !this.running) return;
    const due = Math.max(0, this.pending[0]!.at + this.cfg.confirm_ms - Date.now());
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = undefined;
      this.confirm(Date.now())
        .catch((e) => this.d.log.warn({ err: e, output: this.cfg.name }, `SIEM output ${this.cfg.name} could not save its cursor: ${(e as Error).message}; it is retried.`))
        .finally(() => this.scheduleConfirm());
    }, due);
    this.confirmTimer.unref();
  }

  /** Wait for a wake-up (feed, connection close, stop) or the timeout. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
