// Subscription mode: monitored items (sampling interval, queue, deadband) deliver changes as the
// server sees them; each poll hands out every change since the previous poll and, for a tag that
// did not change, its current value stamped with the poll time. So the rules get the same samples
// as in read mode (one or more per tag per poll), faster, and a poll costs no request.
import type { ClientMonitoredItemGroup, ClientSession, ClientSubscription, DataValue } from 'node-opcua';
import type { Quality, Sample } from '../types.js';
import type { OpcuaDeviceConfig } from './config.js';
import { decodeVariant, qualityOf, type VariantLike } from './decode.js';
import { asOpcuaError, OpcuaError } from './errors.js';
import { loadOpcua } from './lib.js';
import { withTimeout } from './session.js';

const QUALITIES: readonly Quality[] = ['good', 'uncertain', 'bad'];
const QUALITY_CODE: Readonly<Record<Quality, number>> = { good: 0, uncertain: 1, bad: 2 };

/**
 * Values kept column by column (a number in a Float64Array, anything else in an array beside it):
 * at 100,000 changes/s one object per change, alive until the next poll, was what the GC copied
 * and promoted; here a change costs no allocation once the columns have grown.
 */
class Values {
  num: Float64Array;
  /** the value when it is not a number (boolean, string, null); undefined for numbers */
  other: (boolean | string | null | undefined)[];
  quality: Uint8Array;
  reason: (string | undefined)[];

  constructor(capacity: number) {
    this.num = new Float64Array(capacity);
    this.other = new Array<undefined>(capacity).fill(undefined);
    this.quality = new Uint8Array(capacity);
    this.reason = new Array<undefined>(capacity).fill(undefined);
  }

  set(i: number, value: Sample['value'], quality: Quality, reason: string | undefined): void {
    if (typeof value === 'number') {
      this.num[i] = value;
      this.other[i] = undefined;
    } else this.other[i] = value;
    this.quality[i] = QUALITY_CODE[quality];
    this.reason[i] = reason;
  }

  copy(i: number, from: Values, j: number): void {
    this.num[i] = from.num[j];
    this.other[i] = from.other[j];
    this.quality[i] = from.quality[j];
    this.reason[i] = from.reason[j];
  }

  /** Write entry i into a sample (the sample's device and tag are set by the caller). */
  fill(i: number, s: Sample): void {
    const o = this.other[i];
    s.value = o === undefined ? this.num[i] : o;
    s.quality = QUALITIES[this.quality[i]];
    s.reason = this.reason[i];
  }

  grow(capacity: number): Values {
    const v = new Values(capacity);
    v.num.set(this.num);
    v.quality.set(this.quality);
    for (let i = 0; i < this.other.length; i++) {
      v.other[i] = this.other[i];
      v.reason[i] = this.reason[i];
    }
    return v;
  }
}

/** Changes kept per poll at most (a server flooding changes cannot grow memory without bound). */
const MAX_PENDING_PER_TAG = 100;

export class TagSubscription {
  private sub: ClientSubscription | null = null;
  /** changes since the last drain, in arrival order: tag, arrival time and value */
  private pendingTag = new Int32Array(1024);
  private pendingTs = new Float64Array(1024);
  private pending = new Values(1024);
  private pendingCount = 0;
  /** latest value of every tag */
  private readonly last: Values;
  private readonly hasLast: Uint8Array;
  private readonly changedSince: Uint8Array;
  /** Sample objects handed out by drain, refilled by the next one (see PollResult.samples) */
  private readonly pool: Sample[] = [];
  private dropped = 0;
  /** when the server last sent a notification or a keep-alive */
  private lastHeardAt = 0;
  /** notifications received since start (benchmark) */
  notifications = 0;
  terminated: OpcuaError | null = null;

  constructor(
    private readonly cfg: OpcuaDeviceConfig,
    private readonly now: () => number,
  ) {
    this.last = new Values(cfg.tags.length);
    this.hasLast = new Uint8Array(cfg.tags.length);
    this.changedSince = new Uint8Array(cfg.tags.length);
    this.lastHeardAt = now();
  }

  /**
   * Create the subscription and its monitored items. `nodes[i]` is tag i's resolved NodeId, or
   * null when it could not be resolved (it is then left out). Returns per-tag creation problems.
   */
  async start(session: ClientSession, nodes: readonly (string | null)[]): Promise<Map<number, string>> {
    const ua = await loadOpcua();
    const s = this.cfg.subscription;
    const problems = new Map<number, string>();
    try {
      this.sub = await withTimeout(
        session.createSubscription2({
          requestedPublishingInterval: s.publishing_interval_ms,
          requestedMaxKeepAliveCount: s.keepalive_count,
          requestedLifetimeCount: s.keepalive_count * 10,
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 1,
        }),
        this.cfg.timeout_ms,
        'CreateSubscription',
      );
    } catch (e) {
      throw asOpcuaError(e, 'subscription', this.cfg.endpoint_url);
    }
    this.sub.on('terminated', () => {
      this.terminated ??= new OpcuaError('connection_lost', `the server ended the subscription of ${this.cfg.endpoint_url}`);
    });
    // A server that goes silent (half-open connection, hung process) must not leave its last values
    // passing as current ones: it owes a keep-alive every keepalive_count publishing intervals.
    this.lastHeardAt = this.now();
    const heard = () => (this.lastHeardAt = this.now());
    this.sub.on('keepalive', heard);
    this.sub.on('received_notifications', heard);
    // Tags with the same sampling interval and deadband share one CreateMonitoredItems request.
    const groups = new Map<string, number[]>();
    this.cfg.tags.forEach((t, i) => {
      if (nodes[i] === null) return;
      const key = `${t.sampling_interval_ms ?? s.sampling_interval_ms}|${t.deadband?.type ?? ''}|${t.deadband?.value ?? ''}`;
      const list = groups.get(key) ?? [];
      list.push(i);
      groups.set(key, list);
    });
    for (const tagIdx of groups.values()) {
      const t = this.cfg.tags[tagIdx[0]];
      const filter = t.deadband
        ? new ua.DataChangeFilter({
            trigger: ua.DataChangeTrigger.StatusValue,
            deadbandType: t.deadband.type === 'absolute' ? ua.DeadbandType.Absolute : ua.DeadbandType.Percent,
            deadbandValue: t.deadband.value,
          })
        : null;
      const group: ClientMonitoredItemGroup = ua.ClientMonitoredItemGroup.create(
        this.sub,
        tagIdx.map((i) => ({ nodeId: nodes[i]!, attributeId: ua.AttributeIds.Value })),
        { samplingInterval: t.sampling_interval_ms ?? s.sampling_interval_ms, queueSize: s.queue_size, discardOldest: true, filter },
        // Samples are stamped on arrival (as in read mode); the server's timestamps would only be
        // decoded into two Date objects per change, which node-opcua keeps past the GC's young
        // generation: most of the memory subscription mode used to promote.
        ua.TimestampsToReturn.Neither,
      );
      group.on('changed', (_item: unknown, dv: DataValue, index: number) => this.onChange(tagIdx[index], dv));
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          group.once('initialized', () => resolve());
          group.once('err', (m: string) => reject(new Error(m)));
        }),
        this.cfg.timeout_ms,
        'CreateMonitoredItems',
      ).catch((e: unknown) => {
        throw asOpcuaError(e, 'subscription', this.cfg.endpoint_url);
      });
      group.monitoredItems.forEach((item, k) => {
        const sc = item.statusCode;
        if (sc && sc.value >>> 30 >= 2) problems.set(tagIdx[k], sc.name);
      });
    }
    return problems;
  }

  private onChange(tag: number, dv: DataValue): void {
    this.notifications++;
    const status = qualityOf(dv.statusCode);
    const d = status === 'bad' ? { value: null, reason: dv.statusCode.name } : decodeVariant(dv.value as VariantLike);
    const quality = d.reason && status === 'good' ? 'bad' : status;
    const reason = d.reason ?? (status !== 'good' ? dv.statusCode.name : undefined);
    this.last.set(tag, d.value, quality, reason);
    this.hasLast[tag] = 1;
    if (this.changedSince[tag] >= MAX_PENDING_PER_TAG) {
      this.dropped++;
      return;
    }
    this.changedSince[tag]++;
    const k = this.pendingCount++;
    if (k === this.pendingTag.length) this.growPending(k * 2);
    this.pendingTag[k] = tag;
    this.pendingTs[k] = this.now();
    this.pending.copy(k, this.last, tag);
  }

  private growPending(capacity: number): void {
    const tag = new Int32Array(capacity);
    tag.set(this.pendingTag);
    const ts = new Float64Array(capacity);
    ts.set(this.pendingTs);
    this.pendingTag = tag;
    this.pendingTs = ts;
    this.pending = this.pending.grow(capacity);
  }

  /** How long the server may stay silent before the subscription counts as dead. */
  get silenceLimitMs(): number {
    const s = this.cfg.subscription;
    return 2 * s.publishing_interval_ms * s.keepalive_count + this.cfg.timeout_ms;
  }

  /**
   * Changes since the last drain, then the current value of every tag that did not change. The
   * samples are this subscription's own objects, refilled by the next drain (PollResult.samples).
   */
  drain(device: string, names: readonly string[], out: Sample[]): { dropped: number } {
    const ts = this.now();
    if (this.terminated === null && ts - this.lastHeardAt > this.silenceLimitMs) {
      this.terminated = new OpcuaError('timeout', `${this.cfg.endpoint_url} sent no data change nor keep-alive for ${ts - this.lastHeardAt} ms (limit ${this.silenceLimitMs} ms); its subscription is presumed dead`);
      return { dropped: 0 };
    }
    let used = 0;
    for (let k = 0; k < this.pendingCount; k++) {
      const s = this.sample(used++, device, names[this.pendingTag[k]], this.pendingTs[k]);
      this.pending.fill(k, s);
      out.push(s);
    }
    for (let i = 0; i < names.length; i++) {
      if (this.changedSince[i] !== 0 || this.hasLast[i] === 0) continue;
      const s = this.sample(used++, device, names[i], ts);
      this.last.fill(i, s);
      out.push(s);
    }
    this.pendingCount = 0;
    this.changedSince.fill(0);
    const dropped = this.dropped;
    this.dropped = 0;
    return { dropped };
  }

  /** Pooled sample k, its tag and time set. */
  private sample(k: number, device: string, tag: string, ts: number): Sample {
    let s = this.pool[k];
    if (s === undefined) {
      s = { device, tag, value: null, quality: 'bad', ts, rtt_ms: 0, reason: undefined };
      this.pool.push(s);
    }
    s.tag = tag;
    s.ts = ts;
    return s;
  }

  /** true once a value arrived for tag i */
  hasValue(i: number): boolean {
    return this.hasLast[i] === 1;
  }

  async stop(timeoutMs: number): Promise<void> {
    const sub = this.sub;
    this.sub = null;
    if (sub) await withTimeout(sub.terminate(), timeoutMs, 'DeleteSubscriptions').catch(() => undefined);
  }
}
