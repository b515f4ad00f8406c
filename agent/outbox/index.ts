// The outbox's public surface: the interface, the SQLite implementation, hashing and verification.
export { type Outbox, type OutboxEntry, type OutboxStats, type DropCounts, OutboxError } from './types.js';
export { SqliteOutbox, type SqliteOutboxOptions } from './sqlite.js';
export { GENESIS_HASH, GAP_RULE, canonicalJson, hashSignal, verifyChain, type ChainReport } from './canonical.js';
export { GAP_RESERVE_BYTES } from './retention.js';

import path from 'node:path';
import type { OutboxConfig } from '../config/schema.js';
import { SqliteOutbox } from './sqlite.js';

/** The outbox file inside an agent's data_dir. */
export function outboxFile(dataDir: string): string {
  return path.join(dataDir, 'outbox.sqlite');
}

/** Open the agent's outbox in its data_dir. */
export function openOutbox(dataDir: string, agent: string, site: string, limits: OutboxConfig): SqliteOutbox {
  return SqliteOutbox.open({ file: outboxFile(dataDir), agent, site, limits });
}
