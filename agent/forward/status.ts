// The retained status payloads: online (on connect and every status_interval_ms), offline
// (Last Will, set at connect) and offline on a graceful stop.

export interface StatusContext {
  agent: string;
  site: string;
  version: string;
  startedAtMs: number;
  /** fields other stages add to every status payload (signing key, security warnings, ...) */
  extra?: () => Record<string, unknown>;
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
}

function base(ctx: StatusContext) {
  return { ...ctx.extra?.(), agent: ctx.agent, site: ctx.site, version: ctx.version, started_at: new Date(ctx.startedAtMs).toISOString() };
}

export function onlineStatus(ctx: StatusContext, nowMs: number, outboxDepth: number, devices: Record<string, unknown>): OnlineStatus {
  return { state: 'online', ...base(ctx), ts: new Date(nowMs).toISOString(), uptime_s: Math.round((nowMs - ctx.startedAtMs) / 1000), outbox_depth: outboxDepth, devices };
}

export function willStatus(ctx: StatusContext, nowMs: number): OfflineStatus {
  return { state: 'offline', ...base(ctx), reason: 'connection_lost', ts: new Date(nowMs).toISOString() };
}

export function stoppedStatus(ctx: StatusContext, nowMs: number, outboxDepth: number): OfflineStatus {
  return {
    state: 'offline',
    ...base(ctx),
    reason: 'stopped',
    ts: new Date(nowMs).toISOString(),
    uptime_s: Math.round((nowMs - ctx.startedAtMs) / 1000),
    outbox_depth: outboxDepth,
  };
}
