// The retained status payloads: online (on connect and every status_interval_ms), offline
// (Last Will, set at connect) and offline on a graceful stop. Every payload says which MQTT
// version is spoken and what it guarantees; online and stopped say how many events are refused.

export interface StatusContext {
  agent: string;
  site: string;
  version: string;
  startedAtMs: number;
  mqtt: MqttGuarantees;
  /** fields other stages add to every status payload (signing key, security warnings, ...) */
  extra?: () => Record<string, unknown>;
}

/** What the MQTT version in use can promise a consumer. */
export interface MqttGuarantees {
  version: 4 | 5;
  /** the broker can refuse one event (PUBACK reason code) and the agent keeps and reports it */
  refusals_reported: boolean;
  warning?: string;
}

/** Events the broker refused for good, kept in the outbox (see `otsentry outbox refused`). */
export interface DeliveryStatus {
  refused: number;
  oldest_refused_seq?: number;
}

export function mqttGuarantees(version: 4 | 5): MqttGuarantees {
  if (version === 5) return { version, refusals_reported: true };
  return {
    version,
    refusals_reported: false,
    warning: 'MQTT 3.1.1: the broker cannot report a refused publish; an event it refuses (e.g. by ACL) is acked as delivered and lost.',
  };
}

export interface OnlineStatus {
  state: 'online';
  agent: string;
  site: string;
  version: string;
  started_at: string;
  ts: string;
  uptime_s: number;
  outbox_depth: number;
  delivery: DeliveryStatus;
  mqtt: MqttGuarantees;
  devices: Record<string, unknown>;
}

export interface OfflineStatus {
  state: 'offline';
  agent: string;
  site: string;
  version: string;
  started_at: string;
  /** connection_lost (Last Will, published by the broker) or stopped (graceful stop) */
  reason: 'connection_lost' | 'stopped';
  /** when the Last Will was registered / when the agent stopped */
  ts: string;
  uptime_s?: number;
  outbox_depth?: number;
  delivery?: DeliveryStatus;
  mqtt: MqttGuarantees;
}

function base(ctx: StatusContext) {
  return { ...ctx.extra?.(), agent: ctx.agent, site: ctx.site, version: ctx.version, started_at: new Date(ctx.startedAtMs).toISOString(), mqtt: ctx.mqtt };
}

export function onlineStatus(ctx: StatusContext, nowMs: number, outboxDepth: number, devices: Record<string, unknown>, delivery: DeliveryStatus): OnlineStatus {
  return { state: 'online', ...base(ctx), ts: new Date(nowMs).toISOString(), uptime_s: Math.round((nowMs - ctx.startedAtMs) / 1000), outbox_depth: outboxDepth, delivery, devices };
}

export function willStatus(ctx: StatusContext, nowMs: number): OfflineStatus {
  return { state: 'offline', ...base(ctx), reason: 'connection_lost', ts: new Date(nowMs).toISOString() };
}

export function stoppedStatus(ctx: StatusContext, nowMs: number, outboxDepth: number, delivery: DeliveryStatus): OfflineStatus {
  return {
    state: 'offline',
    ...base(ctx),
    reason: 'stopped',
    ts: new Date(nowMs).toISOString(),
    uptime_s: Math.round((nowMs - ctx.startedAtMs) / 1000),
    outbox_depth: outboxDepth,
    delivery,
  };
}
