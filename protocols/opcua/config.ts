// Config schema of one OPC UA device: endpoint, security policy and mode, user identity, trust,
// read or subscription mode, schedule, and tags by NodeId. Checks zod cannot express per field
// (None policy with a secure mode, duplicate tags, a cycle that cannot fit) are in superRefine.
import { z } from 'zod';
import { parseNodeId } from './nodeid.js';

/** Security policies the agent speaks; the first secure one is the default. */
export const OPCUA_POLICIES = ['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;
export const OPCUA_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
/** Deprecated policies (OPC UA 1.04 deprecates them): the agent refuses them, the posture audit reports them. */
export const DEPRECATED_POLICIES = ['Basic128Rsa15', 'Basic256'] as const;

export type OpcuaPolicy = (typeof OPCUA_POLICIES)[number];
export type OpcuaMode = (typeof OPCUA_MODES)[number];

/** Why a deprecated policy cannot be used, for config errors and connection errors alike. */
export function deprecatedPolicyMessage(policy: string): string {
  const node = policy === 'Basic128Rsa15' ? '; it also cannot work on Node 20 and later, which disable the RSA PKCS#1 v1.5 decryption it needs' : '';
  return `${policy} is deprecated and insecure (SHA-1)${node}; use Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss`;
}

// A copy of the agent's secret reference (agent/config/schema.ts composes this file, so it cannot import from there).
const secretSchema = z
  .object({
    env: z.string().min(1).optional().describe('Name of the environment variable holding the secret'),
    file: z.string().min(1).optional().describe('Path of a file holding the secret (trailing newline ignored); relative to the config file'),
  })
  .strict()
  .refine((s) => (s.env === undefined) !== (s.file === undefined), 'give exactly one of env or file');

export const opcuaAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('anonymous') }).strict(),
  z
    .object({
      type: z.literal('username'),
      username: z.string().min(1).describe('User name the server knows'),
      password: secretSchema.describe('Password, from an environment variable or a file (never in the config text)'),
    })
    .strict(),
  z
    .object({
      type: z.literal('certificate'),
      cert_file: z.string().min(1).describe('User certificate (PEM or DER); relative to the config file'),
      key_file: z.string().min(1).describe('Its private key (PEM); relative to the config file'),
    })
    .strict(),
]);

export const opcuaTagSchema = z
  .object({
    name: z.string().min(1).regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'use letters, digits, _ . - and start with a letter or _').describe('Tag name, unique within the device'),
    node_id: z
      .string()
      .min(1)
      .superRefine((v, ctx) => {
        try {
          parseNodeId(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      })
      .describe('NodeId: ns=2;s=Tank.Level, ns=2;i=1001, or nsu=NAMESPACE_URI;s=Tank.Level (namespace by URI)'),
    deadband: z
      .object({
        type: z.enum(['absolute', 'percent']).describe('absolute: in the value unit; percent: of the EURange the server declares'),
        value: z.number().finite().min(0).describe('Changes smaller than this are not reported (subscription mode)'),
      })
      .strict()
      .optional()
      .describe('Subscription mode: data change filter of this tag'),
    sampling_interval_ms: z.number().int().min(0).max(3_600_000).optional().describe('Subscription mode: sampling interval of this tag (default: the subscription one)'),
    unit: z.string().optional().describe('Engineering unit, for people'),
    description: z.string().optional().describe('What the tag means, for people'),
  })
  .strict();

export const opcuaSubscriptionSchema = z
  .object({
    publishing_interval_ms: z.number().int().min(10).max(3_600_000).default(250).describe('How often the server sends changes'),
    sampling_interval_ms: z.number().int().min(0).max(3_600_000).default(250).describe('How often the server samples each tag (0 = as fast as it can)'),
    queue_size: z.number().int().min(1).max(1000).default(10).describe('Changes the server keeps per tag between two publishes'),
    keepalive_count: z.number().int().min(1).max(1000).default(10).describe('Publishing intervals without changes before the server sends a keep-alive'),
  })
  .strict();

const endpointUrl = z
  .string()
  .regex(/^opc\.tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}(\/\S*)?$/, 'use opc.tcp://HOST:PORT (with an optional /path), e.g. opc.tcp://10.0.0.5:4840')
  .describe('Endpoint URL of the server');

export const opcuaDeviceSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . - (it becomes part of event ids)').describe('Device id, unique in the config'),
    protocol: z.literal('opcua').describe('Selects the OPC UA poller'),
    description: z.string().optional().describe('What the device is, for people'),
    enabled: z.boolean().default(true).describe('false = keep the device in the config but do not poll it'),
    endpoint_url: endpointUrl,
    security_policy: z
      .enum(OPCUA_POLICIES, { error: (i) => ((DEPRECATED_POLICIES as readonly unknown[]).includes(i.input) ? deprecatedPolicyMessage(String(i.input)) : undefined) })
      .default('Basic256Sha256')
      .describe('Security policy of the secure channel'),
    security_mode: z.enum(OPCUA_MODES).default('SignAndEncrypt').describe('Message security: None, Sign, SignAndEncrypt'),
    auth: opcuaAuthSchema.default({ type: 'anonymous' }).describe('User identity: anonymous, username (password from env or file) or certificate'),
    trust_on_first_use: z
      .boolean()
      .default(false)
      .describe("Trust the server certificate seen at the first connection and pin it; later certificates are refused (default: run `otsentry trust`)"),
    mode: z.enum(['read', 'subscription']).default('read').describe('read: one Read per poll; subscription: monitored items, polls hand out what changed'),
    subscription: opcuaSubscriptionSchema.prefault({}).describe('Subscription mode settings'),
    max_nodes_per_read: z.number().int().min(1).max(100_000).default(1000).describe('Tags per Read request; more tags take more requests'),
    interval_ms: z.number().int().min(10).default(1000).describe('Poll interval'),
    timeout_ms: z.number().int().min(10).max(600_000).default(1000).describe('Per-request timeout'),
    connect_timeout_ms: z.number().int().min(100).max(600_000).default(10_000).describe('Timeout of discovery, secure channel and session creation'),
    session_timeout_ms: z.number().int().min(1000).max(3_600_000).default(60_000).describe('Session timeout asked from the server'),
    reconnect_min_ms: z.number().int().min(10).default(1000).describe('First reconnect delay'),
    reconnect_max_ms: z.number().int().min(10).default(30_000).describe('Largest reconnect delay (exponential backoff)'),
    degrade_after_failures: z.number().int().min(1).default(3).describe('Consecutive failed cycles before the device is polled less often'),
    degraded_interval_ms: z.number().int().min(10).default(10_000).describe('Poll interval while degraded'),
    identity_interval_ms: z.number().int().min(0).default(600_000).describe('BuildInfo and server certificate cadence; 0 = only at start'),
    posture_interval_ms: z.number().int().min(0).default(60_000).describe('Security posture audit cadence (endpoints, certificate, clock); 0 = only at connect'),
    diagnostics_interval_ms: z.number().int().min(0).default(0).describe('ServerDiagnosticsSummary cadence (session and rejection counters); 0 = never'),
    tags: z.array(opcuaTagSchema).min(1, 'a device needs at least one tag').describe('Tags to read, by NodeId'),
  })
  .strict()
  .superRefine((dev, ctx) => {
    for (const p of opcuaDeviceProblems(dev)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

export type OpcuaTag = z.infer<typeof opcuaTagSchema>;
export type OpcuaAuth = z.infer<typeof opcuaAuthSchema>;
export type OpcuaDeviceConfig = z.infer<typeof opcuaDeviceSchema>;

type DeviceShape = Pick<
  OpcuaDeviceConfig,
  'security_policy' | 'security_mode' | 'auth' | 'tags' | 'reconnect_min_ms' | 'reconnect_max_ms' | 'mode' | 'max_nodes_per_read' | 'timeout_ms' | 'interval_ms'
>;

/** Cross-field problems, each with its place. */
export function opcuaDeviceProblems(dev: DeviceShape): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const none = dev.security_policy === 'None';
  if (none !== (dev.security_mode === 'None')) {
    out.push({
      path: [none ? 'security_mode' : 'security_policy'],
      message: none ? 'security_policy None goes only with security_mode None; pick a secure policy such as Basic256Sha256 for Sign or SignAndEncrypt' : 'security_mode None needs security_policy None (and sends everything in clear); prefer SignAndEncrypt',
    });
  }
  if (dev.auth.type === 'username' && none) {
    out.push({ path: ['auth', 'type'], message: 'a username login over security_mode None would send the password unprotected; use security_mode SignAndEncrypt' });
  }
  const names = new Map<string, number>();
  const nodes = new Map<string, number>();
  dev.tags.forEach((t, i) => {
    const prevName = names.get(t.name);
    if (prevName !== undefined) out.push({ path: ['tags', i, 'name'], message: `duplicate tag name "${t.name}" (also tags[${prevName}])` });
    else names.set(t.name, i);
    const key = t.node_id.trim();
    const prevNode = nodes.get(key);
    if (prevNode !== undefined) out.push({ path: ['tags', i, 'node_id'], message: `node ${key} is already read as tags[${prevNode}] ("${dev.tags[prevNode].name}"); read each node once` });
    else nodes.set(key, i);
  });
  if (dev.reconnect_min_ms > dev.reconnect_max_ms) out.push({ path: ['reconnect_min_ms'], message: 'must not exceed reconnect_max_ms' });
  if (dev.mode === 'read') {
    const requests = Math.ceil(dev.tags.length / dev.max_nodes_per_read);
    const worst = requests * dev.timeout_ms;
    if (worst > dev.interval_ms) {
      out.push({
        path: ['interval_ms'],
        message: `${dev.interval_ms} ms cannot fit the worst case of ${requests} Read request${requests === 1 ? '' : 's'} at timeout_ms ${dev.timeout_ms} (${worst} ms); raise interval_ms to at least ${worst}, or lower timeout_ms`,
      });
    }
  }
  return out;
}
