// The asset inventory published retained on `{prefix}/{site}/{agent}/assets`: what each device is
// (protocol, address, identity), how its link is, and how risky it looks right now.
import type { DeviceConfig } from './config/schema.js';
import type { Fact } from '../protocols/types.js';
import type { DeviceHealth } from './scheduler.js';

export interface AssetRecord {
  id: string;
  protocol: string;
  address: string;
  unit_id?: number;
  identity?: Record<string, unknown>;
  identity_ts?: string;
  diagnostics?: Record<string, unknown>;
  posture?: Record<string, unknown>;
  link: { state: string; last_rtt_ms?: number; last_error?: string; consecutive_failures: number };
  risk_score: number;
  active_alerts: number;
}

export function deviceAddress(d: DeviceConfig): string {
  if (d.protocol === 'opcua') return d.endpoint_url;
  const t = d.transport;
  return t.type === 'rtu' ? `rtu:${t.path}@${t.baud_rate}` : `${t.type === 'tcp' ? 'modbus-tcp' : 'rtu-over-tcp'}://${t.host}:${t.port}`;
}

export class Inventory {
  private readonly assets = new Map<string, AssetRecord>();
  private dirty = true;

  constructor(devices: DeviceConfig[]) {
    for (const d of devices) {
      this.assets.set(d.id, { id: d.id, protocol: d.protocol, address: deviceAddress(d), unit_id: d.protocol === 'modbus' ? d.unit_id : undefined, link: { state: 'connecting', consecutive_failures: 0 }, risk_score: 0, active_alerts: 0 });
    }
  }

  /** Record identity/diagnostics/posture facts; identity or posture changes mark the inventory for republishing. */
  noteFact(f: Fact): void {
    const a = this.assets.get(f.device);
    if (!a) return;
    if (f.kind === 'identity') {
      if (JSON.stringify(a.identity) !== JSON.stringify(f.data)) this.dirty = true;
      a.identity = f.data;
      a.identity_ts = new Date(f.ts).toISOString();
    } else if (f.kind === 'posture') {
      if (JSON.stringify(a.posture) !== JSON.stringify(f.data)) this.dirty = true;
      a.posture = f.data;
    } else if (f.kind === 'diagnostics') {
      a.diagnostics = f.data; // changes every read; carried along, not a reason to republish
    }
  }

  noteHealth(device: string, h: DeviceHealth): void {
    const a = this.assets.get(device);
    if (!a) return;
    if (a.link.state !== h.state) this.dirty = true;
    a.link = { state: h.state, last_rtt_ms: h.last_rtt_ms, last_error: h.state === 'up' ? undefined : h.last_error, consecutive_failures: h.consecutive_failures };
  }

  noteRisk(device: string, score: number, active: number): void {
    const a = this.assets.get(device);
    if (!a) return;
    if (a.risk_score !== score || a.active_alerts !== active) this.dirty = true;
    a.risk_score = score;
    a.active_alerts = active;
  }

  markDirty(): void {
    this.dirty = true;
  }

  /** True once after something worth republishing changed. */
  takeDirty(): boolean {
    const d = this.dirty;
    this.dirty = false;
    return d;
  }

  list(): AssetRecord[] {
    return [...this.assets.values()];
  }
}
