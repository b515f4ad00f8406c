// Prometheus metrics of the console, on central's registry when central hands one to its parts:
// logins by result, response steps by action, open sessions and live streams.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ConsoleMetrics {
  login(result: 'ok' | 'failed' | 'throttled'): void;
  step(action: string): void;
}

export function registerConsoleMetrics(registry: Registry | undefined, sessions: () => number, streams: () => number): ConsoleMetrics {
  if (registry === undefined) return { login: () => undefined, step: () => undefined };
  const logins = new Counter({ name: 'otsentry_central_console_logins_total', help: 'Console logins by result: ok, failed (wrong name or password), throttled (too many failures)', labelNames: ['result'], registers: [registry] });
  const steps = new Counter({ name: 'otsentry_central_console_response_steps_total', help: 'Response steps recorded on alerts, by action (ack, assign, annotate, resolve)', labelNames: ['action'], registers: [registry] });
  new Gauge({ name: 'otsentry_central_console_sessions', help: 'Console sessions alive', registers: [registry], collect() { this.set(sessions()); } });
  new Gauge({ name: 'otsentry_central_console_streams', help: 'Browsers on the live stream', registers: [registry], collect() { this.set(streams()); } });
  return { login: (r) => logins.inc({ result: r }), step: (a) => steps.inc({ action: a }) };
}
