// The Outbox contract against the one implementation, the SQLite file outbox, in each setup an
// agent meets: a fresh file (synchronous FULL, the default, and NORMAL), a file reopened after
// an earlier run left undelivered and delivered events, and a format 1 file migrated on open.
import path from 'node:path';
import type { OutboxConfig } from '../../agent/config/schema.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { outboxContract, type OutboxStore } from './contract.js';
import { drafts, roomyLimits, tempDir, testSigner } from './drafts.js';
import { writeFormat1File } from './format1.js';

function fileStore(file: string, synchronous?: 'FULL' | 'NORMAL'): OutboxStore {
  return {
    signer: testSigner,
    open: (limits: Partial<OutboxConfig> = {}) => SqliteOutbox.open({ file, agent: 'gw-1', site: 'plant-a', limits: { ...roomyLimits, ...limits }, signer: testSigner, synchronous }),
  };
}
const newFile = (): string => path.join(tempDir('otsentry-contract-'), 'outbox.sqlite');

outboxContract('SQLite file, fresh (synchronous FULL)', () => fileStore(newFile()));
outboxContract('SQLite file, fresh (synchronous NORMAL)', () => fileStore(newFile(), 'NORMAL'));
outboxContract('SQLite file, reopened after a run that left 4 of 6 events undelivered', () => {
  const store = fileStore(newFile());
  const earlier = store.open();
  const made = earlier.append(drafts(6));
  earlier.ack([made[0].seq, made[3].seq]);
  earlier.close();
  return store;
});
outboxContract('SQLite file, format 1 with 3 undelivered events, migrated on open', () => {
  const file = newFile();
  writeFormat1File(file, 'gw-1', 'plant-a', testSigner);
  return fileStore(file);
});
