// The MQTT forwarder: drains the outbox oldest first over QoS 1 with a bounded in-flight window,
// acks in the outbox only on a successful PUBACK, keeps the retained status/assets topics, and
// reconnects with its own exponential backoff.
//
// Delivery: first transmissions go out in seq order (a cursor walks the outbox); on disconnect
// the window is forgotten and everything unacked is resent from the outbox after reconnecting
// (at-least-once; consumers dedupe by id). The outbox is told what is in flight, so retention
// never drops an event that may be delivered. A PUBACK with a failure reason code (MQTT 5):
// - permanent (refusals.ts): the event is kept in the outbox as refused and no longer offered;
//   the rest keep flowing on the same connection; a built-in signal reports it;
// - transient (quota, busy): new transmissions pause for a backoff, then the refused event and
//   the ones after it go out again in seq order.
// Refusals a broker does not attribute (an undefined PUBACK code, DISCONNECT 0x95, closing the
// connection on an event, see drops.ts) go to the oldest unacked publish.
//
// MQTT version: broker.protocol_version, 5 by default. No silent fallback: a broker that refuses
// MQTT 5 is an error naming the fix, since MQTT 3.1.1 cannot report a refused publish.
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import type { BrokerConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../../protocols/log.js';
import type { Outbox, OutboxEntry } from '../outbox/types.js';
import { Backoff, RetryGate } from './backoff.js';
import { explainError, explainPubackFailure, type Explained } from './errors.js';
import { clientOptions, redactUrl, topicsFor, type Topics } from './options.js';
import { Refusals, isTransientRefusal } from './refusals.js';
import { SentOrder } from './sent.js';
import { DropWatch } from './drops.js';
import { mqttGuarantees, onlineStatus, stoppedStatus, willStatus, type DeliveryStatus, type StatusContext } from './status.js';
import { packageVersion } from '../../protocols/package.js';

export type ConnectFn = (url: string, opts: IClientOptions) => MqttClient;

export interface ForwarderOptions {
  broker: BrokerConfig;
  agent: string;
  site: string;
  outbox: Outbox;
  /** folder that relative secret and TLS file paths are resolved against (the config file's) */
  baseDir?: string;
  logger?: Logger;
  /** reported in status; default: otsentry's package.json version */
  version?: string;
  /** device link states for the status payload */
  devices?: () => Record<string, unknown>;
  /** more fields for every status payload (online, Last Will, stopped); must not throw */
  statusExtra?: () => Record<string, unknown>;
  /** retained inventory for the assets topic; omit to publish none */
  assets?: () => unknown;
  /** injected for tests (wrap or fake the client); default mqtt.connect */
  connect?: ConnectFn;
  /** wall clock in ms; injectable for tests */
  now?: () => number;
  /** jitter source for the backoff; injectable for tests */
  random?: () => number;
}

export interface ForwarderStats {
  connected: boolean;
  protocol_version: 4 | 5;
  /** connection attempts and successful connections since start */
  attempts: number;
  connects: number;
  /** event publishes written, resends included */
  sent: number;
  /** events acked by a successful PUBACK */
  acked: number;
  /** PUBACKs with a failure reason code */
  rejected: number;
  /** events the broker refused for good, kept in the outbox as refused */
  refused: number;
  /** transient refusals (quota, busy) retried after a backoff */
  retried: number;
  inflight: number;
  inflight_peak: number;
  /** current window: min(max_inflight, broker receive maximum - 2) */
  window: number;
  outbox_depth: number;
  last_error?: { code: string; message: string; at: string };
}

const PACKET_TOO_LARGE = 0x95;
/** Stored as the reason code when the broker sent one MQTT 5 does not define. */
const UNKNOWN_CODE = -1;
/** Single-event connections lost in a row with the same event that make it refused. */
const DROPS_TO_REFUSE = 3;
/** Connections that lived this long reset the backoff. */
const STABLE_MS = 10_000;
/** Fallback drain poll in case an append was not followed by notify(). */
const POLL_MS = 1000;
/** Same error logged again at warn/error at most this often; in between at debug. */
const LOG_REPEAT_MS = 60_000;

export class Forwarder {
  private readonly log: Logger;
  /** broker URL without credentials, for logs and messages */
  private readonly url: string;
  private readonly topics: Topics;
  private readonly base: IClientOptions;
  private readonly ctx: StatusContext;
  private readonly backoff: Backoff;
  private readonly connectFn: ConnectFn;
  private readonly now: () => number;
  private readonly pv: 4 | 5;

  private client?: MqttClient;
  private gen = 0;
  private connected = false;
  private connectedAt = 0;
  private everConnected = false;
  private started = false;
  private stopping = false;
  private reconnectTimer?: NodeJS.Timeout;
  private statusTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private pumpScheduled = false;

  private window = 1;
  private cursor = 0;
  private readonly inflight = new Set<number>();
  private readonly sent = new SentOrder();
  /** the broker's Maximum Packet Size (CONNACK), if it announced one */
  private maxPacket?: number;
  private ackBuffer: number[] = [];
  private statusInflight = false;
  /** transient PUBACK refusals: no new event is sent while it is paused */
  private readonly retry: RetryGate;
  private readonly refusals: Refusals;
  private readonly drops = new DropWatch(DROPS_TO_REFUSE);

  private readonly counters = { attempts: 0, connects: 0, sent: 0, acked: 0, rejected: 0, retried: 0, inflight_peak: 0 };
  private lastError?: ForwarderStats['last_error'];
  private lastLogged?: { code: string; at: number };

  constructor(private readonly opts: ForwarderOptions) {
    const b = opts.broker;
    this.url = redactUrl(b.url);
    this.log = (opts.logger ?? silentLogger).child({ stage: 'forward', broker: this.url });
    this.topics = topicsFor(b.topic_prefix, opts.site, opts.agent);
    this.base = clientOptions(b, opts.site, opts.agent, opts.baseDir ?? process.cwd());
    this.now = opts.now ?? Date.now;
    this.pv = b.protocol_version;
    this.ctx = { agent: opts.agent, site: opts.site, version: opts.version ?? packageVersion(), startedAtMs: this.now(), mqtt: mqttGuarantees(this.pv), extra: opts.statusExtra };
    this.backoff = new Backoff(b.reconnect_min_ms, Math.max(b.reconnect_min_ms, b.reconnect_max_ms), opts.random);
    this.retry = new RetryGate(new Backoff(b.reconnect_min_ms, Math.max(b.reconnect_min_ms, b.reconnect_max_ms), opts.random), (from) => {
      this.cursor = Math.min(this.cursor, from - 1);
      this.schedulePump();
    });
    this.connectFn = opts.connect ?? ((url, o) => mqtt.connect(url, o));
    this.refusals = new Refusals(opts.outbox, opts.agent, this.now);
  }

  /** Start connecting; events are drained as soon as the broker accepts the connection. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.ctx.startedAtMs = this.now();
    this.pollTimer = setInterval(() => this.schedulePump(), POLL_MS);
    this.pollTimer.unref();
    this.connectNow();
  }

  /** New events were appended to the outbox. */
  notify(): void {
    this.schedulePump();
  }

  /** Refused events were made pending again (outbox retry): send them, oldest first. */
  redeliver(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.cursor = Math.min(this.cursor, Math.min(...seqs) - 1);
    this.schedulePump();
  }

  /** The inventory changed: republish the retained assets message (now, or on connect). */
  publishAssets(): void {
    if (this.connected && this.client) this.sendAssets(this.client);
  }

  /** Something the status reports changed (e.g. a rules reload): republish it now (or on connect). */
  publishStatus(): void {
    if (this.connected && this.client) this.sendStatus(this.client);
  }

  stats(): ForwarderStats {
    return {
      connected: this.connected,
      protocol_version: this.pv,
      ...this.counters,
      refused: this.refusals.count,
      inflight: this.inflight.size,
      window: this.window,
      outbox_depth: this.safeDepth(),
      last_error: this.lastError,
    };
  }

  /** Graceful stop: flush acks, publish the offline status, disconnect (no Last Will). */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.statusTimer);
    clearInterval(this.pollTimer);
    this.retry.cancel();
    const client = this.client;
    if (client !== undefined && this.connected) {
      const status = JSON.stringify(stoppedStatus(this.ctx, this.now(), this.safeDepth(), this.delivery()));
      await withTimeout(new Promise<void>((resolve) => client.publish(this.topics.status, status, { qos: 1, retain: true }, () => resolve())), timeoutMs);
      this.flushAcks();
      await withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), timeoutMs);
    }
    if (client !== undefined && !client.disconnected) client.end(true);
    this.flushAcks();
    this.connected = false;
    this.inflight.clear();
    this.safeRelease();
    this.log.info('Forwarder stopped.');
  }

  private connectNow(): void {
    if (this.stopping) return;
    const gen = ++this.gen;
    this.counters.attempts++;
    const opts: IClientOptions = {
      ...this.base,
      protocolVersion: this.pv,
      will: { topic: this.topics.status, payload: Buffer.from(JSON.stringify(willStatus(this.ctx, this.now()))), qos: 1, retain: true },
    };
    let client: MqttClient;
    try {
      client = this.connectFn(this.opts.broker.url, opts);
    } catch (e) {
      this.record(explainError(e, this.url, this.pv), 'error');
      this.scheduleReconnect();
      return;
    }
    this.client = client;
    client.on('connect', (connack) => this.onConnect(gen, client, connack));
    client.on('error', (err) => this.onError(gen, err));
    client.on('close', () => this.onClose(gen));
    client.on('disconnect', (packet) => {
      if (gen !== this.gen) return;
      const rc = packet.reasonCode ?? 0;
      // Packet too large: the broker read up to the oldest unacked publish and gave up on it.
      if (rc === PACKET_TOO_LARGE) this.refuseOldest(rc, 'Packet too large (the broker disconnected)');
      this.record({ code: 'server_disconnect', refused: false, message: `Broker ${this.url} disconnected us (reason code ${rc}); reconnecting.` }, 'warn');
    });
  }

  private onConnect(gen: number, client: MqttClient, connack: IConnackPacket): void {
    if (gen !== this.gen || this.stopping) return;
    this.connected = true;
    this.connectedAt = this.now();
    this.counters.connects++;
    this.lastLogged = undefined;
    const receiveMax = connack.properties?.receiveMaximum;
    this.window = Math.max(1, Math.min(this.opts.broker.max_inflight, receiveMax === undefined ? Infinity : receiveMax - 2));
    this.cursor = 0;
    this.inflight.clear();
    this.sent.clear();
    this.maxPacket = connack.properties?.maximumPacketSize;
    this.safeRelease();
    this.statusInflight = false;
    this.log.info(
      { protocol: this.pv === 5 ? 'MQTT 5' : 'MQTT 3.1.1', window: this.window, outbox_depth: this.safeDepth() },
      this.everConnected ? 'Reconnected to the broker.' : 'Connected to the broker.',
    );
    this.everConnected = true;
    this.sendStatus(client);
    this.sendAssets(client);
    clearInterval(this.statusTimer);
    this.statusTimer = setInterval(() => this.sendStatus(client), this.opts.broker.status_interval_ms);
    this.statusTimer.unref();
    this.pump();
  }

  private onError(gen: number, err: Error): void {
    if (gen !== this.gen) return;
    if (this.connected && /^Invalid puback reason code/.test(err.message)) {
      // mqtt-packet rejects PUBACK codes MQTT 5 does not define and loses its place in the
      // stream. The PUBACKs parsed before it are still queued in mqtt.js: once they are
      // handled, the oldest unacked publish is the one refused. Then reconnect to resync.
      const client = this.client;
      setImmediate(() => {
        if (gen !== this.gen) return;
        this.refuseOldest(UNKNOWN_CODE, 'a PUBACK reason code MQTT 5 does not define (mosquitto sends 0x95 for an event over its message_size_limit)');
        client?.end(true);
      });
      return;
    }
    const ex = explainError(err, this.url, this.pv, this.connected);
    this.record(ex, ex.refused ? 'error' : 'warn');
  }

  private onClose(gen: number): void {
    if (gen !== this.gen) return;
    const wasConnected = this.connected;
    this.connected = false;
    clearInterval(this.statusTimer);
    this.retry.cancel();
    const dropped = wasConnected && !this.stopping ? this.drops.lost(this.inflight) : undefined;
    if (dropped !== undefined) this.refuseDropped(dropped.seq, dropped.closes);
    this.inflight.clear();
    this.sent.clear();
    this.flushAcks();
    this.safeRelease();
    if (this.stopping) return;
    if (wasConnected) {
      if (this.now() - this.connectedAt >= STABLE_MS) this.backoff.reset();
      this.log.warn({ outbox_depth: this.safeDepth() }, 'Lost the broker connection; unacked events will be resent.');
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopping) return;
    clearTimeout(this.reconnectTimer);
    const delay = this.backoff.next();
    this.log.debug({ delay_ms: delay }, 'Reconnecting after a delay.');
    this.reconnectTimer = setTimeout(() => this.connectNow(), delay);
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.connected) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.flushAcks();
      this.reportRefusals();
      this.pump();
    });
  }

  /** Fill the window with the next events after the cursor, in seq order. */
  private pump(): void {
    const client = this.client;
    if (!this.connected || client === undefined || this.stopping || this.retry.paused) return;
    const gen = this.gen;
    try {
      const window = this.drops.probing ? 1 : this.window;
      while (this.inflight.size < window) {
        const batch = this.opts.outbox.pending(window - this.inflight.size, this.cursor);
        if (batch.length === 0) break;
        // After a rewind (transient refusal, redeliver) some are still awaiting their PUBACK.
        const fresh = batch.filter((e) => !this.inflight.has(e.seq));
        this.cursor = batch[batch.length - 1].seq;
        const fits: OutboxEntry[] = [];
        for (const e of fresh) {
          if (this.maxPacket !== undefined && this.packetSize(e.payload) > this.maxPacket) this.refuseTooLarge(e.seq);
          else fits.push(e);
        }
        this.opts.outbox.inflight(fits.map((e) => e.seq));
        for (const e of fits) {
          this.inflight.add(e.seq);
          this.counters.sent++;
          this.sent.publish(client, this.topics.events, e.payload, { qos: 1 }, e.seq, (err) => this.onPuback(gen, e.seq, err));
        }
        this.counters.inflight_peak = Math.max(this.counters.inflight_peak, this.inflight.size);
      }
    } catch (e) {
      this.record({ code: 'outbox_error', refused: false, message: (e as Error).message }, 'error');
    }
  }

  private onPuback(gen: number, seq: number, err: Error | null | undefined): void {
    if (err === undefined || err === null) {
      // The broker has it: ack even if this connection has closed since.
      this.counters.acked++;
      this.ackBuffer.push(seq);
      if (gen === this.gen) this.inflight.delete(seq);
      this.retry.succeeded();
      this.drops.acked();
      this.schedulePump();
      return;
    }
    // Without a reason code the connection closed: the event is resent after reconnecting.
    const rc = (err as { code?: unknown }).code;
    if (typeof rc !== 'number' || gen !== this.gen) return;
    this.counters.rejected++;
    this.inflight.delete(seq);
    const reason = (err.message ?? '').replace(/^Publish error: /, '') || 'no reason given';
    const transient = isTransientRefusal(rc);
    this.record(explainPubackFailure(err, this.url, seq, transient), transient ? 'warn' : 'error');
    if (!transient) return this.refuseEvent(seq, rc, reason);
    this.counters.retried++;
    this.safeRelease([seq]);
    const delay = this.retry.hold(seq);
    if (delay !== undefined) this.log.debug({ delay_ms: delay, seq }, 'Retrying a refused event after a delay.');
  }

  /** Keep an event as refused in the outbox, to be reported by a signal; delivery goes on. */
  private refuseEvent(seq: number, rc: number, reason: string): void {
    this.inflight.delete(seq);
    try {
      this.refusals.refuse(seq, rc, reason);
    } catch (e) {
      this.record({ code: 'outbox_error', refused: false, message: (e as Error).message }, 'error');
    }
    this.schedulePump();
  }

  /** The broker refused the oldest unacked publish without naming it. */
  private refuseOldest(rc: number, reason: string): void {
    const seq = this.sent.takeOldest();
    if (seq === undefined) return;
    if (typeof seq !== 'number') {
      this.record({ code: 'puback_refused', refused: true, message: `Broker ${this.url} refused the ${seq} message (${reason}); check the broker's size limits.` }, 'error');
      return;
    }
    this.counters.rejected++;
    this.record(
      { code: 'puback_refused', refused: true, message: `Broker ${this.url} refused event seq ${seq} (${reason}); it is kept in the outbox as refused and delivery goes on; check the broker's size limits, then run \`otsentry outbox retry --config FILE --seq ${seq}\`.` },
      'error',
    );
    this.refuseEvent(seq, rc, reason);
  }

  /** The broker closed the connection every time this event was sent alone (drops.ts). */
  private refuseDropped(oldest: number, closes: number): void {
    this.counters.rejected++;
    const reason = `the broker closed the connection ${closes} times in a row while this event awaited its PUBACK`;
    this.record(
      { code: 'puback_refused', refused: true, message: `Broker ${this.url} refused event seq ${oldest} (${reason}); it is kept in the outbox as refused and delivery goes on; check the broker log and its ACL and size limits, then run \`otsentry outbox retry --config FILE --seq ${oldest}\`.` },
      'error',
    );
    this.refuseEvent(oldest, UNKNOWN_CODE, reason);
  }

  /** Over the broker's Maximum Packet Size: refuse it here, the broker would disconnect us. */
  private refuseTooLarge(seq: number): void {
    this.counters.rejected++;
    const reason = `Packet too large (over the broker's Maximum Packet Size of ${this.maxPacket} bytes)`;
    this.record({ code: 'puback_refused', refused: true, message: `Event seq ${seq} is larger than broker ${this.url} accepts (${reason}); it is kept in the outbox as refused and delivery goes on.` }, 'error');
    this.refuseEvent(seq, PACKET_TOO_LARGE, reason);
  }

  /** PUBLISH size: fixed header (≤ 5), topic (2 + length), packet id (2), properties (1), payload. */
  private packetSize(payload: string): number {
    return 5 + 2 + Buffer.byteLength(this.topics.events) + 2 + 1 + Buffer.byteLength(payload);
  }

  /** One delivery_refused signal for the events refused since the last one. */
  private reportRefusals(): void {
    try {
      this.refusals.report();
    } catch (e) {
      this.record({ code: 'outbox_error', refused: false, message: (e as Error).message }, 'error');
    }
  }

  private delivery(): DeliveryStatus {
    try {
      const s = this.opts.outbox.stats();
      return { refused: s.refused, oldest_refused_seq: s.oldest_refused_seq };
    } catch {
      return { refused: -1 };
    }
  }

  private safeRelease(seqs?: number[]): void {
    try {
      this.opts.outbox.release(seqs);
    } catch {
      // a closed outbox holds nothing in flight
    }
  }

  private flushAcks(): void {
    if (this.ackBuffer.length === 0) return;
    const seqs = this.ackBuffer;
    this.ackBuffer = [];
    try {
      this.opts.outbox.ack(seqs);
    } catch (e) {
      // Not acked means resent later: at-least-once still holds.
      this.record({ code: 'outbox_error', refused: false, message: (e as Error).message }, 'error');
    }
  }

  private sendStatus(client: MqttClient): void {
    if (this.statusInflight || !this.connected) return;
    let devices: Record<string, unknown> = {};
    try {
      devices = this.opts.devices?.() ?? {};
    } catch (e) {
      this.record({ code: 'status_error', refused: false, message: `Device status provider failed: ${(e as Error).message}.` }, 'error');
    }
    this.statusInflight = true;
    const payload = JSON.stringify(onlineStatus(this.ctx, this.now(), this.safeDepth(), devices, this.delivery()));
    this.sent.publish(client, this.topics.status, payload, { qos: 1, retain: true }, 'status', () => {
      this.statusInflight = false;
    });
  }

  private sendAssets(client: MqttClient): void {
    if (this.opts.assets === undefined || !this.connected) return;
    let payload: string;
    try {
      payload = JSON.stringify(this.opts.assets());
    } catch (e) {
      this.record({ code: 'assets_error', refused: false, message: `Assets provider failed: ${(e as Error).message}.` }, 'error');
      return;
    }
    this.sent.publish(client, this.topics.assets, payload, { qos: 1, retain: true }, 'assets');
  }

  private safeDepth(): number {
    try {
      return this.opts.outbox.depth();
    } catch {
      return -1;
    }
  }

  /** Keep the last error for stats(); log it, repeating the same code at debug only. */
  private record(ex: Explained, level: 'warn' | 'error'): void {
    const at = this.now();
    this.lastError = { code: ex.code, message: ex.message, at: new Date(at).toISOString() };
    const repeat = this.lastLogged !== undefined && this.lastLogged.code === ex.code && at - this.lastLogged.at < LOG_REPEAT_MS;
    if (repeat) {
      this.log.debug({ error_code: ex.code }, ex.message);
      return;
    }
    this.lastLogged = { code: ex.code, at };
    this.log[level]({ error_code: ex.code }, ex.message);
  }
}

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
