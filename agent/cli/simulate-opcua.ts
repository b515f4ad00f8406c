// `otsentry simulate opcua`: start OPC UA servers (tank or bench process model) from a config file or
// from flags, print one line per server with what a client needs (endpoint, namespace, login,
// certificate thumbprint), and run the scenario timeline. agent/cli.ts stops the handle on SIGINT.
import path from 'node:path';
import type { Logger } from '../../protocols/log.js';
import { parseDuration, DURATION_HINT } from '../../simulators/modbus/duration.js';
import { loadOpcuaSimConfig, parseOpcuaSimConfig, DEFAULT_SIM_USER, type OpcuaSimConfigInput } from '../../simulators/opcua/config.js';
import { findOpcuaScenario, OPCUA_SCENARIO_NAMES } from '../../simulators/opcua/scenarios/index.js';
import { benchOpcuaConfig, startOpcuaSimulator, tankOpcuaConfig, type OpcuaSimulator } from '../../simulators/opcua/index.js';
import { OperationalError } from '../../protocols/errors.js';

export interface SimulateOpcuaOptions {
  config?: string;
  servers?: number;
  /** first port; server i listens on port + i; 0 = free ports */
  port?: number;
  model?: string;
  variables?: number;
  scenario?: string;
  at?: string;
  duration?: string;
  pkiDir?: string;
  trustClient?: string[];
  allowAnonymous?: boolean;
  logger: Logger;
  out?: (line: string) => void;
}

export class SimulateOpcuaUsageError extends OperationalError {
  constructor(message: string) {
    super('usage', message, 'cli');
  }
}

function intFlag(name: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new SimulateOpcuaUsageError(`--${name} ${String(v)}: give a whole number from ${min} to ${max}`);
  return n;
}

function durationFlag(name: string, v: string): number {
  const ms = parseDuration(v);
  if (ms === null) throw new SimulateOpcuaUsageError(`--${name} '${v}' is not a duration; ${DURATION_HINT}`);
  return ms / 1000;
}

function fromFlags(o: SimulateOpcuaOptions): OpcuaSimConfigInput {
  const servers = intFlag('servers', o.servers ?? 1, 1, 100);
  const port = intFlag('port', o.port ?? 4840, 0, 65535);
  if (port !== 0 && port + servers - 1 > 65535) throw new SimulateOpcuaUsageError(`--port ${port} with --servers ${servers} runs past port 65535; pick a lower --port or 0 for free ports`);
  const model = o.model ?? 'tank';
  const trusted = (o.trustClient ?? []).map((f) => path.resolve(f));
  const pki = o.pkiDir ? path.resolve(o.pkiDir) : undefined;
  if (model === 'bench') {
    const cfg = benchOpcuaConfig({ servers, port, variables: intFlag('variables', o.variables ?? 100, 1, 10000), trusted_clients: trusted, allow_anonymous: o.allowAnonymous === true });
    if (pki) for (const s of cfg.servers) s.pki_dir = path.join(pki, s.id);
    return cfg;
  }
  if (model !== 'tank') throw new SimulateOpcuaUsageError(`--model ${model}: use tank or bench`);
  return tankOpcuaConfig({ servers, port, pki_dir: pki, trusted_clients: trusted, allow_anonymous: o.allowAnonymous === true });
}

export async function simulateOpcua(opts: SimulateOpcuaOptions): Promise<OpcuaSimulator> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const input = (opts.config ? loadOpcuaSimConfig(opts.config) : fromFlags(opts)) as OpcuaSimConfigInput;
  if (opts.scenario !== undefined) {
    if (!findOpcuaScenario(opts.scenario)) throw new SimulateOpcuaUsageError(`--scenario ${opts.scenario}: unknown; use one of ${OPCUA_SCENARIO_NAMES.join(', ')}`);
    const first = input.servers?.[0];
    if (!first) throw new SimulateOpcuaUsageError('--scenario needs at least one server');
    const at = opts.at === undefined ? 0 : durationFlag('at', opts.at);
    const duration = opts.duration === undefined ? undefined : durationFlag('duration', opts.duration);
    input.scenarios = [...(input.scenarios ?? []), { name: opts.scenario, server: first.id, at, ...(duration !== undefined ? { duration } : {}) }];
  }
  const cfg = parseOpcuaSimConfig(input, opts.config ?? 'simulator flags');
  const sim = await startOpcuaSimulator(cfg, { logger: opts.logger });
  for (const [i, s] of sim.servers.entries()) {
    const c = cfg.servers[i];
    const logins = [...c.users.map((u) => `user ${u.username} / password ${u.password}`), ...(c.allow_anonymous ? ['anonymous'] : [])].join(', ');
    out(`opcua server ${s.id} listening on ${s.endpoint_url} (model ${s.model}, namespace ${s.namespace_uri}, ${c.security_policies.join('/')} ${c.security_modes.join('/')}; ${logins || 'no logins'})`);
    out(`  certificate thumbprint ${s.certificate?.thumbprint ?? '?'}; PKI ${s.pki_dir}${c.trusted_clients.length ? `; trusts ${c.trusted_clients.length} client certificate(s)` : '; trusts no client yet: start it with --trust-client <the agent\'s {data_dir}/pki/own/certs/client_certificate.pem>'}`);
  }
  for (const s of cfg.scenarios) out(`scenario ${s.name} on ${s.server} at ${s.at}s${s.duration !== undefined ? ` for ${s.duration}s` : ' until stopped'}`);
  if (cfg.servers.some((c) => c.users.some((u) => u.username === DEFAULT_SIM_USER.username && u.password === DEFAULT_SIM_USER.password))) {
    out(`agent auth for these servers: { type: username, username: ${DEFAULT_SIM_USER.username}, password: { env: OTSENTRY_OPCUA_PASSWORD } } with OTSENTRY_OPCUA_PASSWORD=${DEFAULT_SIM_USER.password}`);
  }
  return sim;
}
