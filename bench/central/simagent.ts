// A simulated agent for central's tests and bench: a signed, hash-chained run of risk signals
// exactly as the outbox seals them, plus the retained status and assets payloads with its key.
import { randomUUID } from 'node:crypto';
import { GENESIS_HASH, sealSignal } from '../../agent/outbox/canonical.js';
import { ephemeralSigner, type Signer } from '../../agent/signing/keys.js';
import { SIGNAL_SCHEMA_VERSION, type RiskSignal, type SignalDraft } from '../../rules/signal.js';

export interface Sealed {
  signal: RiskSignal;
  payload: string;
}

export class SimAgent {
  seq = 0;
  hash = GENESIS_HASH;

  constructor(
    readonly site: string,
    readonly agent: string,
    readonly signer: Signer = ephemeralSigner(),
  ) {}

  get topicBase(): string {
    return `${this.site}/${this.agent}`;
  }

  draft(i = this.seq + 1): SignalDraft {
    return {
      ts: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      device: 'plc-1',
      tag: 'level',
      rule: 'level-range',
      category: 'anomaly',
      severity: i % 2 === 0 ? 'low' : 'high',
      state: i % 2 === 0 ? 'cleared' : 'raised',
      score: i % 100,
      message: `level out of range (${i})`,
      observed: i,
      expected: { min: 0, max: 100 },
    };
  }

  /** The next signal of the chain (a draft given, or a generated one). */
  next(d: SignalDraft = this.draft()): Sealed {
    const base = { ...d, v: SIGNAL_SCHEMA_VERSION, id: randomUUID(), seq: this.seq + 1, agent: this.agent, site: this.site, prev_hash: this.hash, key_id: this.signer.keyId };
    const { hash, payload } = sealSignal(base, this.signer.sign);
    this.seq = base.seq;
    this.hash = hash;
    return { signal: JSON.parse(payload) as RiskSignal, payload };
  }

  take(n: number): Sealed[] {
    return Array.from({ length: n }, () => this.next());
  }

  status(state: 'online' | 'offline' = 'online', reason?: 'connection_lost' | 'stopped'): string {
    const base = { state, agent: this.agent, site: this.site, version: '0.1.0', ts: new Date().toISOString(), signing_key: this.signer.info, mqtt: { version: 5, refusals_reported: true } };
    return JSON.stringify(state === 'online' ? { ...base, uptime_s: 1, outbox_depth: 0, devices: {} } : { ...base, reason: reason ?? 'connection_lost' });
  }

  assets(): string {
    return JSON.stringify({ v: 1, ts: new Date().toISOString(), agent: this.agent, site: this.site, signing_key: this.signer.info, site_level: 'normal', site_score: 0, devices: [{ id: 'plc-1', protocol: 'modbus', address: 'modbus-tcp://127.0.0.1:5020', link: { state: 'up', consecutive_failures: 0 }, risk_score: 0, active_alerts: 0 }] });
  }
}
