// The OPC UA simulator's config (YAML or JSON): servers (process model, security, users, PKI) and a
// scenario timeline, validated with zod; every problem is reported at once as `path: message`.
import fs from 'node:fs';
import { z } from 'zod';
import { parseDocument } from 'yaml';
import { durationSchema, formatIssues, identitySchema } from '../modbus/config.js';
import { formatPath, formatProblems } from '../../protocols/problems.js';
import { modelParamsSchema } from '../modbus/models/index.js';
import { findOpcuaScenario, OPCUA_SCENARIO_NAMES } from './scenarios/index.js';
import { OperationalError } from '../../protocols/errors.js';

/** Policies the simulator can offer; the deprecated ones exist so the posture audit has something to find. */
export const SIM_POLICIES = ['None', 'Basic128Rsa15', 'Basic256', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;
export const SIM_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
export type SimPolicy = (typeof SIM_POLICIES)[number];
export type SimMode = (typeof SIM_MODES)[number];

export const DEFAULT_SIM_USER = { username: 'otsentry', password: 'otsentry-sim' } as const;

export const simServerSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . -').describe('Server id, unique in the file'),
    host: z.string().min(1).default('127.0.0.1').describe('Address to listen on (also the host in its endpoint URLs)'),
    port: z.number().int().min(0).max(65535).default(0).describe('TCP port; 0 = a free port (kept across restarts and server-offline)'),
    model: modelParamsSchema.prefault({ type: 'tank' }).describe('Process model: tank or bench (the Modbus simulator models)'),
    identity: identitySchema.default({}).describe('Identity strings (vendor_name, product_code, revision, product_name, ...); BuildInfo follows them'),
    tick_ms: z.number().int().min(10).max(60000).default(100).describe('Process model step'),
    seed: z.number().int().min(0).max(0xffffffff).default(1).describe('Random seed of the process noise'),
    sampling_ms: z.number().int().min(1).max(60000).default(50).describe('Fastest sampling interval of the variables (minimumSamplingInterval)'),
    security_policies: z
      .array(z.enum(SIM_POLICIES))
      .min(1)
      .default(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'])
      .describe('Policies of the secure endpoints'),
    security_modes: z.array(z.enum(SIM_MODES)).min(1).default(['Sign', 'SignAndEncrypt']).describe('Modes; None adds an unsecured endpoint'),
    allow_anonymous: z.boolean().default(false).describe('Offer anonymous login'),
    users: z
      .array(z.object({ username: z.string().min(1), password: z.string().min(1) }).strict())
      .default([{ ...DEFAULT_SIM_USER }])
      .describe('User name logins the server accepts'),
    pki_dir: z.string().min(1).optional().describe('PKI folder of this server (default: a temporary folder removed at stop)'),
    trusted_clients: z.array(z.string().min(1)).default([]).describe('Client certificate files (PEM/DER) trusted at start, e.g. the agent\'s {data_dir}/pki/own/certs/client_certificate.pem'),
    trusted_users: z.array(z.string().min(1)).default([]).describe('User certificate files accepted for X.509 user logins'),
    accept_unknown_clients: z.boolean().default(false).describe('Trust every client certificate (insecure; for quick trials only)'),
    max_sessions: z.number().int().min(1).max(10000).default(100).describe('Sessions the server accepts at once'),
  })
  .strict();

export const simScenarioEntrySchema = z
  .object({
    name: z.string().min(1).describe(`Scenario: ${OPCUA_SCENARIO_NAMES.join(', ')}`),
    server: z.string().min(1).describe('Id of the server it acts on'),
    at: durationSchema.default(0).describe('Start, seconds after the simulator starts (or 10s, 2m)'),
    duration: durationSchema.optional().describe('How long it lasts; absent = until the simulator stops'),
    params: z.record(z.string(), z.unknown()).default({}).describe('Scenario params'),
  })
  .strict();

export const opcuaSimConfigSchema = z
  .object({
    servers: z.array(simServerSchema).min(1, 'list at least one server'),
    scenarios: z.array(simScenarioEntrySchema).default([]),
  })
  .strict();

export type OpcuaSimConfigInput = z.input<typeof opcuaSimConfigSchema>;
export type OpcuaSimConfig = z.output<typeof opcuaSimConfigSchema>;
export type SimServerConfig = OpcuaSimConfig['servers'][number];
export type SimScenarioEntry = OpcuaSimConfig['scenarios'][number];

export class OpcuaSimConfigError extends OperationalError {
  constructor(
    readonly issues: string[],
    source = 'OPC UA simulator config',
  ) {
    super('invalid_config', `${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${issues.join('\n')}`, 'config');
  }
}

type Problem = { path: PropertyKey[]; message: string };
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Duplicate ids and ports, scenario targets and params; reads the raw input so it runs beside the schema. */
function crossCheck(raw: unknown): Problem[] {
  const out: Problem[] = [];
  const ids = new Map<string, number>();
  const models = new Map<string, string>();
  const ports = new Map<string, number>();
  list(obj(raw).servers).forEach((s, i) => {
    const srv = obj(s);
    if (typeof srv.id !== 'string') return;
    if (ids.has(srv.id)) out.push({ path: ['servers', i, 'id'], message: `duplicate id ${srv.id} (also servers[${ids.get(srv.id)}])` });
    else ids.set(srv.id, i);
    models.set(srv.id, typeof srv.model === 'string' ? srv.model : typeof obj(srv.model).type === 'string' ? (obj(srv.model).type as string) : 'tank');
    const modes = list(srv.security_modes);
    const policies = srv.security_policies === undefined ? ['Basic256Sha256'] : list(srv.security_policies);
    if (modes.length > 0 && modes.every((m) => m === 'None') && policies.some((p) => p !== 'None')) {
      out.push({ path: ['servers', i, 'security_modes'], message: 'security policies other than None need the Sign or SignAndEncrypt mode' });
    }
    if (typeof srv.port !== 'number' || srv.port === 0) return;
    const key = `${typeof srv.host === 'string' ? srv.host : '127.0.0.1'}:${srv.port}`;
    if (ports.has(key)) out.push({ path: ['servers', i, 'port'], message: `${key} is already used by servers[${ports.get(key)}]; pick another port or 0 for a free one` });
    else ports.set(key, i);
  });
  list(obj(raw).scenarios).forEach((e, i) => {
    const s = obj(e);
    if (typeof s.name !== 'string') return;
    const mod = findOpcuaScenario(s.name);
    if (!mod) {
      out.push({ path: ['scenarios', i, 'name'], message: `unknown scenario ${s.name}; known: ${OPCUA_SCENARIO_NAMES.join(', ')}` });
      return;
    }
    if (typeof s.server === 'string') {
      const model = models.get(s.server);
      if (model === undefined) out.push({ path: ['scenarios', i, 'server'], message: `no server with id ${s.server}; ids: ${[...ids.keys()].join(', ')}` });
      else if (!(mod.models as readonly string[]).includes(model)) out.push({ path: ['scenarios', i, 'name'], message: `${s.name} needs a ${mod.models.join(' or ')} server; ${s.server} is a ${model}` });
    }
    const r = mod.params.safeParse(s.params ?? {});
    if (!r.success) for (const issue of formatIssues(r.error.issues, ['scenarios', i, 'params'])) out.push({ path: [], message: issue });
  });
  return out;
}

/** Validate a config object; throws OpcuaSimConfigError with every problem. */
export function parseOpcuaSimConfig(raw: unknown, source = 'OPC UA simulator config'): OpcuaSimConfig {
  const parsed = opcuaSimConfigSchema.safeParse(raw);
  const issues = parsed.success ? [] : formatIssues(parsed.error.issues);
  for (const p of crossCheck(raw)) issues.push(p.path.length ? formatProblems([{ path: formatPath(p.path), message: p.message }]) : p.message);
  if (!parsed.success || issues.length > 0) throw new OpcuaSimConfigError(issues, source);
  return parsed.data;
}

/** Read a YAML or JSON simulator config file. */
export function loadOpcuaSimConfig(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpcuaSimConfigError([`${file}: cannot read it (${(e as NodeJS.ErrnoException).code}); check the path`], file);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new OpcuaSimConfigError(doc.errors.map((e) => `yaml: ${e.message.split('\n')[0]} (fix the YAML syntax)`), file);
  return doc.toJS() as unknown;
}
