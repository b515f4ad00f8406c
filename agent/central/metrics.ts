// Central's Prometheus metrics (prom-client) on http://{central.metrics_listen}/metrics: signals
// received, verified, refused by finding code, stored, duplicates, findings, per-agent lag and
// chain state. Values are read from the stages' own counters when scraped.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentBook } from './agents.js';
import type { ChainKeeper } from './chain.js';
import type { Findings } from './findings.js';
import type { Ingest } from './ingest.js';
import type { CentralLink } from './link.js';

export interface CentralMetricSources {
  ingest: Ingest;
  findings: Findings;
  book: AgentBook;
  chain: ChainKeeper;
  link: CentralLink;
}

export function centralRegistry(src: CentralMetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'otsentry_central_' });
  const scalar = (name: string, help: string, read: () => number, kind: 'counter' | 'gauge') => {
    if (kind === 'counter') new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
    else new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  };
  const s = src.ingest.stats;
  scalar('otsentry_central_signals_received_total', 'Event messages received from the broker', () => s.received, 'counter');
  scalar('otsentry_central_signals_verified_total', 'Signals whose hash and signature verified with the pinned key', () => s.verified, 'counter');
  scalar('otsentry_central_signals_stored_total', 'Signals stored (new ids)', () => s.stored, 'counter');
  scalar('otsentry_central_signals_duplicate_total', 'Signals received again within verify.replay_after_secs (redeliveries, deduped by id)', () => s.duplicates, 'counter');
  scalar('otsentry_central_signals_held', 'Events waiting for their agent\'s signing key', () => s.held, 'gauge');
  scalar('otsentry_central_store_errors_total', 'Store transactions that failed and were retried', () => s.store_errors, 'counter');
  scalar('otsentry_central_broker_connected', 'Connected to the MQTT broker (1) or not (0)', () => (src.link.stats.connected ? 1 : 0), 'gauge');
  scalar('otsentry_central_chain_holes', 'Agents with a seq hole inside the gap grace period', () => src.chain.openHoles(), 'gauge');
  const byCode = (name: string, help: string, map: ReadonlyMap<string, number>) =>
    new Counter({ name, help, labelNames: ['code'], registers: [registry], collect() { this.reset(); for (const [code, v] of map) this.inc({ code }, v); } });
  byCode('otsentry_central_signals_refused_total', 'Messages refused, by finding code (malformed, oversized, forged, ...)', src.findings.refused);
  byCode('otsentry_central_findings_total', 'Findings raised by central (after dedupe), by code', src.findings.raised);
  new Gauge({
    name: 'otsentry_central_agent_lag_seconds',
    help: 'Per agent: seconds between the observation time (ts) of its latest stored signal and its arrival at central',
    labelNames: ['site', 'agent'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, ms] of src.ingest.lag) {
        const [site, agent] = k.split('/') as [string, string];
        this.set({ site, agent }, ms / 1000);
      }
    },
  });
  new Gauge({
    name: 'otsentry_central_agent_last_seq',
    help: 'Per agent: highest seq stored',
    labelNames: ['site', 'agent'],
    registers: [registry],
    collect() {
      this.reset();
      for (const st of src.book.all()) this.set({ site: st.rec.site, agent: st.rec.agent }, st.rec.last_seq);
    },
  });
  new Gauge({
    name: 'otsentry_central_agent_online',
    help: 'Per agent: its retained status says online (1) or offline (0)',
    labelNames: ['site', 'agent'],
    registers: [registry],
    collect() {
      this.reset();
      for (const st of src.book.all()) if (st.rec.status_state !== undefined) this.set({ site: st.rec.site, agent: st.rec.agent }, st.rec.status_state === 'online' ? 1 : 0);
    },
  });
  return registry;
}
