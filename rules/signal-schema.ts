// The risk signal as a zod schema: what `otsentry schema signal` prints as JSON Schema and what
// the central process checks every received payload against (a payload that fails is
// `malformed`). It describes the same object as the RiskSignal interface in signal.ts; a
// compile-time check below keeps the two from drifting apart.
import { z } from 'zod';
import { CATEGORIES, SEVERITIES, type RiskSignal } from './signal.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'use 64 lowercase hex digits');

export const riskSignalSchema = z
  .object({
    v: z.number().int().min(1).describe('Schema version: 1 unsigned, 2 adds key_id and sig'),
    id: z.string().min(1).max(200).describe('Unique id (UUID); consumers dedupe by it'),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).describe('Rises by one per event per agent'),
    ts: z.string().min(1).describe('ISO 8601 time of the observation'),
    agent: z.string().min(1).max(200).describe('Agent id'),
    site: z.string().min(1).max(200).describe('Site id'),
    device: z.string().max(200).describe('Device id ("" or the agent\'s own id for agent-level events)'),
    tag: z.string().max(200).optional().describe('Tag, when the event concerns one'),
    rule: z.string().min(1).max(200).describe('Rule id (otsentry.* for built-in events)'),
    category: z.enum(CATEGORIES).describe('What kind of risk'),
    severity: z.enum(SEVERITIES).describe('How bad'),
    state: z.enum(['raised', 'cleared']).describe('An alert raised, or cleared'),
    score: z.number().min(0).max(100).describe('Device risk score 0-100 after this event'),
    message: z.string().describe('One sentence for people'),
    observed: z.unknown().optional().describe('What was seen'),
    expected: z.unknown().optional().describe('What the rule expects'),
    evidence: z.record(z.string(), z.unknown()).optional().describe('Rule-specific details'),
    prev_hash: hex64.describe('hash of the previous event of this agent (64 zeros before the first)'),
    hash: hex64.describe('SHA-256 (hex) of the canonical JSON of the signal without hash and sig'),
    key_id: z.string().regex(/^[0-9a-f]{16}$/, 'use 16 lowercase hex digits').optional().describe('v2: fingerprint of the signing key (covered by hash)'),
    sig: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'use base64').optional().describe('v2: base64 Ed25519 signature over the ASCII bytes of hash'),
  })
  .describe('otsentry risk signal (one JSON object per MQTT message on {prefix}/{site}/{agent}/events)');

// Both directions: a parsed signal is a RiskSignal, and a RiskSignal passes the schema's shape.
type Parsed = z.infer<typeof riskSignalSchema>;
const _toInterface = (p: Parsed): RiskSignal => p;
const _toSchema = (s: RiskSignal): Parsed => s;
void _toInterface;
void _toSchema;
