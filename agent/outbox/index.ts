// The outbox's public surface: the interface, the SQLite implementation, hashing and verification.
export { type Outbox, type OutboxEntry, type OutboxStats, type DropCounts, OutboxError } from './types.js';
export { SqliteOutbox, type SqliteOutboxOptions } from './sqlite.js';
export { GENESIS_HASH, GAP_RULE, canonicalJson, hashSignal, verifyChain, type ChainReport } from './canonical.js';
export { GAP_RESERVE_BYTES } from './retention.js';

import path from 'node:path';
import type { OutboxConfig } from '../config/schema.js';
import { SqliteOutbox } from './sqlite.js';
import { loadSigningKey } from '../signing/keys.js';

/** The outbox file inside an agent's data_dir. */
export function outboxFile(dataDir: string): string {
  return path.join(dataDir, 'outbox.sqlite');
}

/**
 * Open the agent's outbox in its data_dir, signed with the data_dir's key. The key is made only
 * for an outbox whose chain has no key yet; a lost key is refused, never silently replaced.
 */
export function openOutbox(dataDir: string, agent: string, site: string, limits: OutboxConfig): SqliteOutbox {
  const file = outboxFile(dataDir);
  return SqliteOutbox.open({
    file,
    agent,
    site,
    limits,
    signer: (recorded) =>
      loadSigningKey(dataDir, {
        create: recorded === undefined,
        refuseMissing:
          `The outbox ${file} is signed with key ${recorded}; restore the key file from a backup. If it is lost for good, move the outbox aside ` +
          `(mv ${file} ${file}.old): the agent then starts a new chain at seq 1 with a new key, which consumers must be told about.`,
      }),
  });
}
