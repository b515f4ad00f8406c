// Opens the store the central config names: SQLite in data_dir by default, or PostgreSQL.
import path from 'node:path';
import { resolveSecret } from '../../config/secrets.js';
import type { StoreConfig } from '../config/schema.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { CentralStore } from './types.js';

export async function openStore(cfg: StoreConfig, dataDir: string, baseDir: string): Promise<CentralStore> {
  const store: CentralStore =
    cfg.type === 'sqlite'
      ? new SqliteStore(path.resolve(dataDir, cfg.path))
      : new PostgresStore({ ...cfg, password: cfg.password === undefined ? undefined : resolveSecret(cfg.password, baseDir, 'store.password') });
  await store.init();
  return store;
}
