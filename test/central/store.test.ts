// The store contract against SQLite (a temp file) and a real PostgreSQL server (initdb in a temp
// dir; test/central's helper, never a mock).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from '../../agent/central/store/postgres.js';
import { SqliteStore } from '../../agent/central/store/sqlite.js';
import { startPostgres, type PgServer } from '../../bench/central/pgserver.js';
import { storeContract } from './store.contract.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-central-store-'));
let n = 0;
storeContract('sqlite', async () => {
  const s = new SqliteStore(path.join(dir, `c${++n}.db`));
  await s.init();
  return s;
});

let pgServer: PgServer;
beforeAll(async () => {
  pgServer = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pgServer?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
storeContract('postgres', async () => {
  const s = new PostgresStore({ host: pgServer.host, port: pgServer.port, user: pgServer.user, database: await pgServer.createDatabase() });
  await s.init();
  return s;
});
