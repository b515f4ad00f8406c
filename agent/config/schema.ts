// The agent's config file schema, composed from one schema per part (agent, broker, outbox,
// devices per protocol, rules). Types come from z.infer so code and schema cannot drift.
import { z } from 'zod';
import { deviceSchema } from '../../protocols/devices.js';
import { alertsConfigSchema } from '../../rules/alerts/config.js';

export { deviceSchema, type DeviceConfig } from '../../protocols/devices.js';

/** A secret is never written in the file itself: it comes from an environment variable or a file. */
export const secretRefSchema = z
  .object({
    env: z.string().min(1).optional().describe('Name of the environment variable holding the secret'),
    file: z.string().min(1).optional().describe('Path of a file holding the secret (trailing newline ignored)'),
  })
  .strict()
  .refine((s) => (s.env === undefined) !== (s.file === undefined), 'give exactly one of env or file');

export const agentSectionSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, _ and - (it is an MQTT topic level)').describe('Agent id'),
    site: z.string().min(1).regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, _ and - (it is an MQTT topic level)').describe('Site name'),
    data_dir: z.string().min(1).default('./data').describe('Outbox database and state; relative to the config file'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    metrics_listen: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, 'use host:port, e.g. 127.0.0.1:9464')
      .optional()
      .describe('Serve Prometheus metrics on http://host:port/metrics (off when absent)'),
  })
  .strict();

export const tlsSchema = z
  .object({
    ca_file: z.string().optional().describe('CA certificate(s) that sign the broker certificate (PEM)'),
    cert_file: z.string().optional().describe('Client certificate for mutual TLS (PEM)'),
    key_file: z.string().optional().describe('Client private key for mutual TLS (PEM)'),
    key_passphrase: secretRefSchema.optional(),
    reject_unauthorized: z.boolean().default(true).describe('Verify the broker certificate (keep true in production)'),
    servername: z.string().optional().describe('TLS server name if it differs from the URL host'),
  })
  .strict()
  .refine((t) => (t.cert_file === undefined) === (t.key_file === undefined), 'mutual TLS needs both cert_file and key_file');

export const brokerSchema = z
  .object({
    url: z
      .string()
      .regex(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, 'use mqtt://host:port or mqtts://host:port')
      // user:password@ would end up in logs, process listings and backups of the config
      .refine((u) => !/^[a-z]+:\/\/[^/@\s:]*:[^/@\s]*@/i.test(u), 'do not put the password in the URL; remove user:password@ and set broker.username and broker.password: { env: NAME } or { file: PATH }')
      .describe('Broker URL'),
    topic_prefix: z.string().min(1).regex(/^[^#+]+$/, 'no MQTT wildcards').default('otsentry'),
    client_id: z.string().min(1).optional().describe('Defaults to otsentry-{site}-{agent}'),
    username: z.string().optional(),
    password: secretRefSchema.optional(),
    tls: tlsSchema.optional(),
    keepalive_secs: z.number().int().min(5).max(3600).default(30),
    connect_timeout_ms: z.number().int().min(100).default(10000),
    reconnect_min_ms: z.number().int().min(50).default(1000),
    reconnect_max_ms: z.number().int().min(50).default(60000),
    max_inflight: z.number().int().min(1).max(1000).default(64).describe('QoS 1 messages awaiting PUBACK at once while draining'),
    status_interval_ms: z.number().int().min(1000).default(30000).describe('Retained status refresh'),
    protocol_version: z
      .union([z.literal(5), z.literal(4)], { error: 'use 5 (MQTT 5) or 4 (MQTT 3.1.1)' })
      .default(5)
      .describe('MQTT 5 (default) or 4 = MQTT 3.1.1, only for brokers without MQTT 5: a 3.1.1 broker cannot report a refused event'),
  })
  .strict()
  .refine((b) => b.password === undefined || b.username !== undefined, { message: 'password needs a username', path: ['password'] });

export const outboxSchema = z
  .object({
    max_events: z.number().int().min(100).default(1_000_000),
    max_bytes: z.number().int().min(100_000).default(512 * 1024 * 1024),
    max_age_hours: z.number().positive().default(24 * 30),
  })
  .strict();

export const configSchema = z
  .object({
    agent: agentSectionSchema,
    broker: brokerSchema,
    outbox: outboxSchema.default({ max_events: 1_000_000, max_bytes: 512 * 1024 * 1024, max_age_hours: 720 }),
    devices: z.array(deviceSchema).min(1, 'list at least one device'),
    // Each rule is checked against its detector type's schema by rules/validate.ts (all problems at once).
    rules: z.array(z.unknown()).default([]).describe('Detection rules; see rules/README.md'),
    alerts: alertsConfigSchema.prefault({}).describe('Alert lifecycle: flap suppression, rate limit, risk score, site level'),
  })
  .strict();

export type SecretRef = z.infer<typeof secretRefSchema>;
export type BrokerConfig = z.infer<typeof brokerSchema>;
export type OutboxConfig = z.infer<typeof outboxSchema>;
export type AgentConfig = z.infer<typeof configSchema>;
