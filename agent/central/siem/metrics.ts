// Prometheus metrics of the SIEM outputs, read from each output's stats when scraped.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SiemOutput } from './output.js';

export function registerSiemMetrics(registry: Registry, outputs: readonly SiemOutput[]): void {
  const counter = (name: string, help: string, read: (o: SiemOutput) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['output'],
      registers: [registry],
      collect() {
        this.reset();
        for (const o of outputs) this.inc({ output: o.stats.name }, read(o));
      },
    });
  counter('otsentry_central_siem_events_sent_total', 'CEF events written to the collector (resends included)', (o) => o.stats.sent);
  counter('otsentry_central_siem_bytes_sent_total', 'Bytes written to the collector', (o) => o.stats.bytes);
  counter('otsentry_central_siem_events_resent_total', 'Events written again after the connection dropped before their confirmation', (o) => o.stats.resent);
  counter('otsentry_central_siem_disconnects_total', 'Connections to the collector that failed after being up', (o) => o.stats.disconnects);
  new Gauge({
    name: 'otsentry_central_siem_connected',
    help: '1 while the output is connected to its collector',
    labelNames: ['output'],
    registers: [registry],
    collect() {
      for (const o of outputs) this.set({ output: o.stats.name }, o.stats.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'otsentry_central_siem_backlog_events',
    help: 'Stored signals and findings beyond the output\'s confirmed cursor',
    labelNames: ['output'],
    registers: [registry],
    async collect() {
      for (const o of outputs) this.set({ output: o.stats.name }, await o.backlog());
    },
  });
}
