// Programmatic API of the OPC UA simulator: start servers from a config, reach their process models,
// run scenarios (the Modbus process attacks and the OPC UA security ones), restart, stop.
import { silentLogger, type Logger } from '../../protocols/log.js';
import { formatIssues } from '../modbus/config.js';
import { runTimeline, type Timeline } from '../modbus/timeline.js';
import { ScenarioError } from '../modbus/scenarios/types.js';
import { parseOpcuaSimConfig, type OpcuaSimConfig, type OpcuaSimConfigInput } from './config.js';
import { findOpcuaScenario, OPCUA_SCENARIO_NAMES } from './scenarios/index.js';
import { SimServer, type SimServerInfo } from './server.js';
import { OperationalError } from '../../protocols/errors.js';

/** The same error the Modbus simulator's scenarios throw (code scenario_error). */
export const OpcuaScenarioError = ScenarioError;

export class OpcuaSimStartError extends OperationalError {
  constructor(message: string) {
    super('listen_failed', message, 'simulate');
  }
}

export interface OpcuaScenarioRun {
  readonly name: string;
  readonly server: string;
  readonly params: unknown;
  readonly startedAt: number;
  readonly active: boolean;
  stop(): Promise<void>;
}

export interface OpcuaSimulator {
  /** every server with the port it listens on and its endpoint URL */
  readonly servers: SimServerInfo[];
  /** A server: process model (server.plc), security hooks, restart. Throws for an unknown id. */
  server(id: string): SimServer;
  startScenario(name: string, serverId: string, params?: Record<string, unknown>): Promise<OpcuaScenarioRun>;
  /** Stops every active run of that scenario on that server; resolves to how many were stopped. */
  stopScenario(name: string, serverId: string): Promise<number>;
  activeScenarios(): OpcuaScenarioRun[];
  readonly timeline: Timeline;
  stop(): Promise<void>;
}

export interface OpcuaSimOptions {
  logger?: Logger;
  /** run the config's scenario timeline (default true) */
  timeline?: boolean;
}

async function runScenario(server: SimServer, name: string, rawParams: unknown): Promise<OpcuaScenarioRun> {
  const mod = findOpcuaScenario(name);
  if (!mod) throw new OpcuaScenarioError(`unknown scenario ${name}; known: ${OPCUA_SCENARIO_NAMES.join(', ')}`);
  if (!mod.models.includes(server.plc.model.type)) throw new OpcuaScenarioError(`${name} needs a ${mod.models.join(' or ')} server; ${server.id} is a ${server.plc.model.type}`);
  const parsed = mod.params.safeParse(rawParams ?? {});
  if (!parsed.success) throw new OpcuaScenarioError(`${name} params on ${server.id}:\n${formatIssues(parsed.error.issues, ['params']).join('\n')}`);
  const state = await mod.start(server, parsed.data);
  server.logger.info({ scenario: name, server: server.id }, 'Scenario started.');
  let active = true;
  let stopping: Promise<void> | null = null;
  return {
    name,
    server: server.id,
    params: parsed.data,
    startedAt: Date.now(),
    get active() {
      return active;
    },
    stop() {
      stopping ??= (async () => {
        active = false;
        await mod.stop(server, state);
        server.logger.info({ scenario: name, server: server.id }, 'Scenario ended.');
      })();
      return stopping;
    },
  };
}

export async function startOpcuaSimulator(config: OpcuaSimConfigInput | OpcuaSimConfig, opts: OpcuaSimOptions = {}): Promise<OpcuaSimulator> {
  const cfg = parseOpcuaSimConfig(config);
  const logger = opts.logger ?? silentLogger;
  const servers = cfg.servers.map((c) => new SimServer(c, logger.child({ server: c.id })));
  const started: SimServer[] = [];
  for (const [i, s] of servers.entries()) {
    try {
      await s.start();
      started.push(s);
    } catch (e) {
      await Promise.all(started.map((x) => x.stop()));
      await s.stop().catch(() => undefined);
      const c = s.config;
      const code = (e as NodeJS.ErrnoException).code;
      throw new OpcuaSimStartError(
        code === 'EADDRINUSE' || code === 'EACCES'
          ? `servers[${i}] (${c.id}): cannot listen on ${c.host}:${c.port} (${code}); pick another port, or 0 for a free one`
          : `servers[${i}] (${c.id}): cannot start: ${(e as Error).message}`,
      );
    }
  }
  const byId = new Map(servers.map((s) => [s.id, s]));
  const server = (id: string): SimServer => {
    const s = byId.get(id);
    if (!s) throw new OpcuaScenarioError(`no server with id ${id}; ids: ${[...byId.keys()].join(', ')}`);
    return s;
  };
  let runs: OpcuaScenarioRun[] = [];
  let stopped = false;
  const startScenario = async (name: string, serverId: string, params?: Record<string, unknown>): Promise<OpcuaScenarioRun> => {
    const run = await runScenario(server(serverId), name, params);
    if (stopped) await run.stop();
    else runs = [...runs.filter((r) => r.active), run];
    return run;
  };
  // The Modbus simulator's timeline, fed with this config's entries (server in place of plc).
  const entries = opts.timeline === false ? [] : cfg.scenarios.map((e) => ({ ...e, plc: e.server }));
  const timeline = runTimeline(entries, (e) => startScenario(e.name, e.plc, e.params).then((r) => ({ ...r, plc: r.server, state: undefined })), logger);
  for (const s of servers) logger.info({ server: s.id, endpoint: s.endpointUrl }, 'OPC UA server simulator listening.');
  return {
    get servers() {
      return servers.map((s) => s.info());
    },
    server,
    startScenario,
    async stopScenario(name, serverId) {
      server(serverId);
      const hit = runs.filter((r) => r.active && r.name === name && r.server === serverId);
      await Promise.all(hit.map((r) => r.stop()));
      return hit.length;
    },
    activeScenarios: () => runs.filter((r) => r.active),
    timeline,
    async stop() {
      stopped = true;
      timeline.cancel();
      for (const r of [...runs].reverse()) {
        if (!r.active) continue;
        await r.stop().catch((err: unknown) => logger.warn({ err, scenario: r.name, server: r.server }, 'Scenario did not stop cleanly.'));
      }
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

export interface TankOpcuaOptions {
  servers?: number;
  /** first port; server i gets port + i. 0 (default) = free ports */
  port?: number;
  tick_ms?: number;
  seed?: number;
  time_scale?: number;
  pki_dir?: string;
  trusted_clients?: string[];
  allow_anonymous?: boolean;
  scenarios?: OpcuaSimConfigInput['scenarios'];
}

/** tank-ua-1..n, each a tank plant behind its own OPC UA server. */
export function tankOpcuaConfig(o: TankOpcuaOptions = {}): OpcuaSimConfigInput {
  return {
    servers: Array.from({ length: o.servers ?? 1 }, (_, i) => ({
      id: `tank-ua-${i + 1}`,
      port: o.port ? o.port + i : 0,
      model: { type: 'tank' as const, ...(o.time_scale !== undefined ? { time_scale: o.time_scale } : {}) },
      tick_ms: o.tick_ms ?? 100,
      seed: (o.seed ?? 1) + i,
      ...(o.pki_dir ? { pki_dir: `${o.pki_dir}/tank-ua-${i + 1}` } : {}),
      trusted_clients: o.trusted_clients ?? [],
      allow_anonymous: o.allow_anonymous ?? false,
    })),
    scenarios: o.scenarios ?? [],
  };
}

export interface BenchOpcuaOptions {
  servers?: number;
  variables?: number;
  port?: number;
  tick_ms?: number;
  sampling_ms?: number;
  trusted_clients?: string[];
  security_modes?: ('None' | 'Sign' | 'SignAndEncrypt')[];
  security_policies?: ('None' | 'Basic256Sha256')[];
  /** offer anonymous login (a bench over security None: a username would travel in clear) */
  allow_anonymous?: boolean;
}

/** bench-ua-1..n, each with `variables` drifting variables (load tests). */
export function benchOpcuaConfig(o: BenchOpcuaOptions = {}): OpcuaSimConfigInput {
  return {
    servers: Array.from({ length: o.servers ?? 1 }, (_, i) => ({
      id: `bench-ua-${i + 1}`,
      port: o.port ? o.port + i : 0,
      model: { type: 'bench' as const, registers: o.variables ?? 1000 },
      tick_ms: o.tick_ms ?? 1000,
      sampling_ms: o.sampling_ms ?? 50,
      seed: 1 + i,
      trusted_clients: o.trusted_clients ?? [],
      ...(o.security_modes ? { security_modes: o.security_modes } : {}),
      ...(o.security_policies ? { security_policies: o.security_policies } : {}),
      allow_anonymous: o.allow_anonymous ?? false,
    })),
  };
}

export { SimServer, type SimServerInfo } from './server.js';
export { OPCUA_SCENARIOS, OPCUA_SCENARIO_NAMES } from './scenarios/index.js';
export { loadOpcuaSimConfig, parseOpcuaSimConfig, OpcuaSimConfigError, DEFAULT_SIM_USER, type OpcuaSimConfig, type OpcuaSimConfigInput } from './config.js';
export { namespaceUri, tagNodeId } from './address-space.js';
