// Subscription mode: monitored items (sampling interval, queue, deadband) deliver changes as the
// server sees them; each poll hands out every change since the previous poll and, for a tag that
// did not change, its current value stamped with the poll time. So the rules get the same samples
// as in read mode (one or more per tag per poll), faster, and a poll costs no request.
import type { ClientMonitoredItemGroup, ClientSession, ClientSubscription, DataValue } from 'node-opcua';
import type { Sample } from '../types.js';
import type { OpcuaDeviceConfig } from './config.js';
import { decodeVariant, qualityOf, type VariantLike } from './decode.js';
import { asOpcuaError, OpcuaError } from './errors.js';
import { loadOpcua } from './lib.js';
import { withTimeout } from './session.js';

interface Pending {
  tag: number;
  value: Sample['value'];
  quality: Sample['quality'];
  ts: number;
  reason?: string;
}

/** Changes kept per poll at most (a server flooding changes cannot grow memory without bound). */
const MAX_PENDING_PER_TAG = 100;

export class TagSubscription {
  private sub: ClientSubscription | null = null;
  private pending: Pending[] = [];
  private readonly last: (Pending | null)[];
  private readonly changedSince: Uint8Array;
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
    this.last = cfg.tags.map(() => null);
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
        ua.TimestampsToReturn.Both,
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
    const quality = qualityOf(dv.statusCode);
    const d = quality === 'bad' ? { value: null, reason: dv.statusCode.name } : decodeVariant(dv.value as VariantLike);
    const p: Pending = { tag, value: d.value, quality: d.reason && quality === 'good' ? 'bad' : quality, ts: this.now() };
    if (d.reason) p.reason = d.reason;
    else if (quality !== 'good') p.reason = dv.statusCode.name;
    this.last[tag] = p;
    if (this.changedSince[tag] >= MAX_PENDING_PER_TAG) {
      this.dropped++;
      return;
    }
    this.changedSince[tag]++;
    this.pending.push(p);
  }

  /** How long the server may stay silent before the subscription counts as dead. */
  get silenceLimitMs(): number {
    const s = this.cfg.subscription;
    return 2 * s.publishing_interval_ms * s.keepalive_count + this.cfg.timeout_ms;
  }

  /** Changes since the last drain, then the current value of every tag that did not change. */
  drain(device: string, names: readonly string[], out: Sample[]): { dropped: number } {
    const ts = this.now();
    if (this.terminated === null && ts - this.lastHeardAt > this.silenceLimitMs) {
      this.terminated = new OpcuaError('timeout', `${this.cfg.endpoint_url} sent no data change nor keep-alive for ${ts - this.lastHeardAt} ms (limit ${this.silenceLimitMs} ms); its subscription is presumed dead`);
      return { dropped: 0 };
    }
    for (const p of this.pending) out.push(toSample(device, names[p.tag], p, p.ts));
    for (let i = 0; i < this.last.length; i++) {
      const l = this.last[i];
      if (this.changedSince[i] === 0 && l !== null) out.push(toSample(device, names[i], l, ts));
    }
    this.pending = [];
    this.changedSince.fill(0);
    const dropped = this.dropped;
    this.dropped = 0;
    return { dropped };
  }

  /** true once a value arrived for tag i */
  hasValue(i: number): boolean {
    return this.last[i] !== null;
  }

  async stop(timeoutMs: number): Promise<void> {
    const sub = this.sub;
    this.sub = null;
    if (sub) await withTimeout(sub.terminate(), timeoutMs, 'DeleteSubscriptions').catch(() => undefined);
  }
}

function toSample(device: string, tag: string, p: Pending, ts: number): Sample {
  const s: Sample = { device, tag, value: p.value, quality: p.quality, ts, rtt_ms: 0 };
  if (p.reason !== undefined) s.reason = p.reason;
  return s;
}
