// Prometheus metrics (prom-client) on http://{agent.metrics_listen}/metrics. Values are read from
// the stages' own counters when scraped, so metrics add nothing to the poll hot path.
import http from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../protocols/log.js';
import type { DeviceScheduler } from './scheduler.js';
import type { Judge } from './judge.js';
import type { Outbox } from './outbox/index.js';
import type { Forwarder } from './forward/index.js';
import type { AlertManager } from '../rules/alerts/index.js';
import { SITE_LEVELS } from '../rules/alerts/index.js';
import { OperationalError } from '../protocols/errors.js';

export interface MetricSources {
  schedulers: ReadonlyMap<string, DeviceScheduler>;
  judge: Judge;
  outbox: Outbox;
  forwarder: Forwarder;
  alerts: AlertManager;
}

export interface MetricsServer {
  url: string;
  registry: Registry;
  close(): Promise<void>;
}

export function metricsRegistry(src: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'otsentry_' });
  type Read = (s: DeviceScheduler, device: string) => number | undefined;
  const perDevice = (name: string, help: string, read: Read, kind: 'counter' | 'gauge') => {
    const each = (put: (device: string, v: number) => void) => {
      for (const [device, s] of src.schedulers) {
        const v = read(s, device);
        if (v !== undefined) put(device, v);
      }
    };
    if (kind === 'counter') {
      new Counter({ name, help, labelNames: ['device'], registers: [registry], collect() { this.reset(); each((device, v) => this.inc({ device }, v)); } });
    } else {
      new Gauge({ name, help, labelNames: ['device'], registers: [registry], collect() { this.reset(); each((device, v) => this.set({ device }, v)); } });
    }
  };
  perDevice('otsentry_device_up', 'Device link is up (1) or not (0)', (s) => (s.health.state === 'up' ? 1 : 0), 'gauge');
  perDevice('otsentry_poll_cycles_total', 'Poll cycles run', (s) => s.health.cycles, 'counter');
  perDevice('otsentry_poll_cycles_failed_total', 'Poll cycles in which the device did not answer', (s) => s.health.failed_cycles, 'counter');
  perDevice('otsentry_poll_cycles_skipped_total', 'Poll slots skipped because a cycle overran its interval', (s) => s.health.skipped_cycles, 'counter');
  perDevice('otsentry_device_requests_total', 'Requests sent to the device', (s) => s.health.requests, 'counter');
  perDevice('otsentry_device_rtt_ms', 'Round-trip time of the last good poll', (s) => s.health.last_rtt_ms, 'gauge');
  perDevice('otsentry_device_loop_restarts_total', 'Device poll loops restarted after an unexpected error (otsentry.device_loop_restarted)', (s) => s.health.loop_restarts, 'counter');
  perDevice('otsentry_device_risk_score', 'Device risk score 0-100', (_s, device) => src.alerts.score(device), 'gauge');

  const scalar = (name: string, help: string, read: () => number, kind: 'counter' | 'gauge') => {
    if (kind === 'counter') {
      new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
    } else {
      new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
    }
  };
  scalar('otsentry_samples_total', 'Samples judged', () => src.judge.counters.samples, 'counter');
  scalar('otsentry_findings_total', 'Findings of the rule engine', () => src.judge.counters.findings, 'counter');
  scalar('otsentry_signals_total', 'Risk signals committed to the outbox', () => src.judge.counters.signals, 'counter');
  scalar('otsentry_outbox_commit_failures_total', 'Outbox commits that failed (events held in memory)', () => src.judge.counters.commit_failures, 'counter');
  scalar('otsentry_outbox_depth', 'Events in the outbox awaiting PUBACK', () => src.outbox.stats().depth, 'gauge');
  scalar('otsentry_outbox_bytes', 'Payload bytes in the outbox', () => src.outbox.stats().bytes, 'gauge');
  scalar('otsentry_outbox_dropped_total', 'Events dropped by retention since start (reported by gap events)', () => src.outbox.stats().dropped, 'counter');
  scalar('otsentry_broker_connected', 'Connected to the MQTT broker (1) or not (0)', () => (src.forwarder.stats().connected ? 1 : 0), 'gauge');
  scalar('otsentry_broker_acked_total', 'Events acknowledged by the broker (PUBACK)', () => src.forwarder.stats().acked, 'counter');
  scalar('otsentry_broker_inflight', 'Events published and awaiting PUBACK', () => src.forwarder.stats().inflight, 'gauge');
  new Counter({
    name: 'otsentry_rule_failures_total',
    help: 'Detector failures; the rule is suspended for that device (otsentry.rule_failed)',
    labelNames: ['device', 'rule'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of src.judge.ruleFailures.values()) this.inc({ device: c.device, rule: c.rule }, c.count);
    },
  });
  scalar('otsentry_rules_suspended', 'Rules suspended for a device after a failure, awaiting their retry', () => src.judge.engineStats().suspended, 'gauge');
  scalar('otsentry_outbox_refused', 'Events the broker refused for good, kept in the outbox (otsentry outbox refused)', () => src.outbox.stats().refused, 'gauge');
  scalar('otsentry_broker_refused_total', 'Events the broker refused for good (PUBACK reason code) since start', () => src.forwarder.stats().refused, 'counter');
  scalar('otsentry_broker_publish_retries_total', 'Transient PUBACK refusals (quota, busy) retried after a backoff', () => src.forwarder.stats().retried, 'counter');
  scalar('otsentry_site_warning_level', `Site warning level: ${SITE_LEVELS.map((l, i) => `${i} ${l}`).join(', ')}`, () => SITE_LEVELS.indexOf(src.alerts.snapshot().site_level), 'gauge');
  return registry;
}

/** Serve the registry; resolves once listening. Errors name the address and the fix. */
export async function startMetricsServer(listen: string, src: MetricSources, log: Logger): Promise<MetricsServer> {
  return serveRegistry(metricsRegistry(src), listen, 'agent.metrics_listen', log);
}

/** Serve a registry on http://listen/metrics; `where` names the config key in errors. Shared with central. */
export async function serveRegistry(registry: Registry, listen: string, where: string, log: Logger): Promise<MetricsServer> {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at);
  const port = Number(listen.slice(at + 1));
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('otsentry serves /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new OperationalError('metrics_listen', `${where} ${listen}: cannot listen (${e.code}); pick a free port or remove metrics_listen`, 'config')),
    );
    server.listen(port, host, resolve);
  });
  const addr = server.address() as { port: number };
  const url = `http://${host}:${addr.port}/metrics`;
  log.info({ url }, 'Serving metrics.');
  return {
    url,
    registry,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
