// A throwaway PostgreSQL server for tests and the bench: Debian's postgresql (initdb + pg_ctl)
// in a temp dir on a free loopback port, trust auth for one user. As root (CI), the cluster
// runs as the `postgres` system user, because PostgreSQL refuses to run as root.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../procs.js';

const run = promisify(execFile);

export interface PgServer {
  host: string;
  port: number;
  user: string;
  dir: string;
  /** create a fresh database and return its name */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The PostgreSQL bin dir (newest Debian version installed), or undefined. */
export function postgresBinDir(): string | undefined {
  if (process.env.OTSENTRY_PG_BIN) return process.env.OTSENTRY_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}


let dbCounter = 0;

export async function startPostgres(): Promise<PgServer> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('PostgreSQL is not installed (apt-get install postgresql); the central store tests need a real server.');
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-pg-'));
  const data = path.join(dir, 'data');
  // As root: a dedicated system user owns the cluster (postgres exists with the Debian package).
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    fs.chmodSync(dir, 0o755);
    await run('chown', ['postgres:', dir]);
  }
  const user = 'otsentry';
  const exec = async (cmd: string, args: string[]) => {
    const [c, a] = wrap(path.join(bin, cmd), args);
    try {
      return await run(c, a, { cwd: dir });
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`${cmd} failed: ${err.stderr ?? err.message}`);
    }
  };
  await exec('initdb', ['-D', data, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  // fsync off: a throwaway test cluster; the bench says so where it prints PostgreSQL figures.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200`;
  await exec('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
  return {
    host: '127.0.0.1',
    port,
    user,
    dir,
    async createDatabase(name = `t${process.pid}_${++dbCounter}`) {
      const c = new pg.Client({ host: '127.0.0.1', port, user, database: 'postgres' });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return name;
    },
    async stop() {
      await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
