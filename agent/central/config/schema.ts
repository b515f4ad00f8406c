// The central config file schema (`otsentry central --config central.yaml`), one schema per part
// composed here. `siem` and `console` are owned by the SIEM output and the web console; this file
// only gives them their place. Types come from z.infer.
import { z } from 'zod';
import { secretRefSchema, tlsSchema } from '../../config/schema.js';
import { consoleConfigSchema } from '../console/config.js';
import { siemSchema } from '../siem/config.js';

const level = z.string().min(1).regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, _ and -');

export const centralSectionSchema = z
  .object({
    id: level.default('central').describe('Name of this central process (MQTT client id base, logs, finding evidence)'),
    data_dir: z.string().min(1).default('./central-data').describe('SQLite store and state; relative to the config file'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    metrics_listen: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, 'use host:port, e.g. 127.0.0.1:9465')
      .optional()
      .describe('Serve Prometheus metrics on http://host:port/metrics (off when absent)'),
  })
  .strict();

export const centralBrokerSchema = z
  .object({
    url: z
      .string()
      .regex(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, 'use mqtt://host:port or mqtts://host:port')
      .refine((u) => !/^[a-z]+:\/\/[^/@\s:]*:[^/@\s]*@/i.test(u), 'do not put the password in the URL; set broker.username and broker.password: { env: NAME } or { file: PATH }')
      .describe('Broker URL'),
    topic_prefix: z.string().min(1).regex(/^[^#+]+$/, 'no MQTT wildcards').default('otsentry').describe('The agents\' broker.topic_prefix'),
    share_group: level.default('otsentry-central').describe('MQTT 5 shared subscription group for events: central processes in one group split the load'),
    shared_subscription: z
      .boolean()
      .default(true)
      .describe('Subscribe events as $share/{share_group}/...; false subscribes them directly (a broker without shared subscriptions, e.g. the embedded demo broker: then run one central process only)'),
    protocol_version: z
      .union([z.literal(5), z.literal(4)], { error: 'use 5 (MQTT 5) or 4 (MQTT 3.1.1)' })
      .default(5)
      .describe('MQTT 5 (default) or 4 = MQTT 3.1.1 for brokers without MQTT 5'),
    client_id: z.string().min(1).optional().describe('Defaults to otsentry-central-{central.id}: stable, so the broker keeps this process\'s session (and queues its events) across restarts; give every central process its own central.id'),
    session_expiry_secs: z
      .number()
      .int()
      .min(0)
      .default(86400)
      .describe('How long the broker keeps this process\'s session and queues events for it while it is down (MQTT 5; 0 = a clean session every start)'),
    username: z.string().optional(),
    password: secretRefSchema.optional(),
    tls: tlsSchema.optional(),
    keepalive_secs: z.number().int().min(5).max(3600).default(30),
    connect_timeout_ms: z.number().int().min(100).default(10000),
    reconnect_ms: z.number().int().min(50).default(1000),
  })
  .strict()
  .refine((b) => b.password === undefined || b.username !== undefined, { message: 'password needs a username', path: ['password'] });

export const retentionSchema = z
  .object({
    max_age_days: z.number().positive().default(90).describe('Drop signals and findings older than this'),
    max_bytes: z.number().int().min(1_000_000).default(10 * 1024 * 1024 * 1024).describe('Keep stored signal payloads under this many bytes, oldest dropped first'),
    interval_secs: z.number().int().min(1).default(300).describe('How often retention runs'),
  })
  .strict();

const sqliteStoreSchema = z
  .object({
    type: z.literal('sqlite'),
    path: z.string().min(1).default('central.db').describe('SQLite file (WAL); relative to data_dir'),
  })
  .strict();

const postgresStoreSchema = z
  .object({
    type: z.literal('postgres'),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1).default('otsentry'),
    user: z.string().min(1).default('otsentry'),
    password: secretRefSchema.optional(),
    ssl: z.boolean().default(false).describe('TLS to the server'),
    pool_size: z.number().int().min(1).max(100).default(4),
  })
  .strict();

export const storeSchema = z
  .discriminatedUnion('type', [sqliteStoreSchema, postgresStoreSchema])
  .describe('Where signals, assets and findings are kept: sqlite (default) or postgres');

export const verifySchema = z
  .object({
    max_payload_bytes: z.number().int().min(1024).default(64 * 1024).describe('Larger messages are refused (finding `oversized`)'),
    stall_after_secs: z.number().int().min(0).default(900).describe('Finding `stalled` when an agent reports online but its seq has not risen for this long (0 turns it off)'),
    gap_grace_secs: z.number().int().min(1).default(60).describe('A missing seq not filled or covered by a gap event within this long raises `gap`'),
    replay_after_secs: z.number().int().min(1).default(3600).describe('A signal received again this long after its first arrival is a replay, not a redelivery'),
    key_wait_secs: z.number().int().min(0).default(10).describe('How long signals of an agent without a known key wait for its status/assets'),
    allow_agents: z.array(z.string().regex(/^[A-Za-z0-9_*-]+\/[A-Za-z0-9_*-]+$/, 'use site/agent; * matches a whole level')).optional().describe('Only these site/agent pairs are accepted (absent: any agent that publishes a key)'),
    require_signed: z.boolean().default(true).describe('Refuse v1 (unsigned) signals'),
    workers: z
      .number()
      .int()
      .min(0)
      .max(64)
      .optional()
      .describe('Threads that check signatures (most of the CPU a signal costs); default: the cores less one, at most 4; 0 checks on the main thread'),
  })
  .strict();

export const centralConfigSchema = z
  .object({
    central: centralSectionSchema.prefault({}),
    broker: centralBrokerSchema,
    store: storeSchema.default({ type: 'sqlite', path: 'central.db' }),
    retention: retentionSchema.prefault({}),
    verify: verifySchema.prefault({}),
    // Owned by the SIEM output (agent/central/siem/config.ts): outputs with a cursor each.
    siem: siemSchema,
    // Owned by the web console (agent/central/console/).
    console: consoleConfigSchema.optional(),
  })
  .strict();

export type CentralConfig = z.infer<typeof centralConfigSchema>;
export type CentralBrokerConfig = z.infer<typeof centralBrokerSchema>;
export type StoreConfig = z.infer<typeof storeSchema>;
export type VerifyConfig = z.infer<typeof verifySchema>;
export type RetentionConfig = z.infer<typeof retentionSchema>;
