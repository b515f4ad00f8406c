// A console on a free port over a SQLite store and a feed the test fills itself (signed signals
// from SimAgent, assets payloads), and an HTTP client with a cookie jar for the API tests.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { consoleConfigSchema, type ConsoleConfig } from '../../../agent/central/console/config.js';
import { hashPassword } from '../../../agent/central/console/password.js';
import { startConsoleServer, type ConsoleServer } from '../../../agent/central/console/server.js';
import { CentralFeed } from '../../../agent/central/feed.js';
import { SqliteStore } from '../../../agent/central/store/sqlite.js';
import type { StoredSignal } from '../../../agent/central/store/types.js';
import { silentLogger } from '../../../protocols/log.js';
import type { SignalDraft } from '../../../rules/signal.js';
import { SimAgent } from '../../../bench/central/simagent.js';
import { freePort } from '../../helpers/ports.js';

export const PASSWORDS = { alice: 'alice-responds-1', victor: 'victor-only-looks' } as const;
/** Cheap hashes for tests (ln=10); the command makes ln=17. */
const FAST = { ln: 10, r: 8, p: 1 };

export interface Fixture {
  url: string;
  server: ConsoleServer;
  store: SqliteStore;
  feed: CentralFeed;
  dir: string;
  clock: { ms: number | undefined };
  metrics: Registry;
  stop(): Promise<void>;
}

export async function startFixture(over: Record<string, unknown> = {}, baseDir?: string): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-console-'));
  const store = new SqliteStore(path.join(dir, 'central.db'));
  await store.init();
  const feed = new CentralFeed();
  const users = [
    { name: 'alice', role: 'responder', password_hash: await hashPassword(PASSWORDS.alice, FAST) },
    { name: 'victor', role: 'viewer', password_hash: await hashPassword(PASSWORDS.victor, FAST) },
  ];
  const config: ConsoleConfig = consoleConfigSchema.parse({ listen: `127.0.0.1:${await freePort()}`, users, ...over });
  const clock: { ms: number | undefined } = { ms: undefined };
  const metrics = new Registry();
  const server = await startConsoleServer({ config, store, feed, log: silentLogger, version: '0.1.0-test', baseDir: baseDir ?? dir, metrics, now: () => clock.ms ?? Date.now() });
  return {
    url: server.url.replace(/\/$/, ''),
    server,
    store,
    feed,
    dir,
    clock,
    metrics,
    async stop() {
      await server.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  ca?: Buffer;
}

export function request(base: string, method: string, p: string, o: RequestOptions = {}): Promise<Answer> {
  const u = new URL(p, base);
  const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const headers: Record<string, string> = { ...(body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...o.headers };
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, ca: o.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A logged-in browser stand-in: keeps the session cookie and the CSRF token. */
export class Client {
  cookie = '';
  csrf = '';
  constructor(
    readonly base: string,
    readonly ca?: Buffer,
  ) {}

  async login(name: string, password: string): Promise<Answer> {
    const r = await request(this.base, 'POST', '/api/login', { body: { name, password }, ca: this.ca });
    const set = r.headers['set-cookie']?.[0];
    if (r.status === 200 && set) {
      this.cookie = set.split(';')[0]!;
      this.csrf = r.json.csrf;
    }
    return r;
  }

  get(p: string): Promise<Answer> {
    return request(this.base, 'GET', p, { headers: { Cookie: this.cookie }, ca: this.ca });
  }

  post(p: string, body: unknown, headers: Record<string, string> = { 'X-CSRF-Token': this.csrf }): Promise<Answer> {
    return request(this.base, 'POST', p, { body, headers: { Cookie: this.cookie, ...headers }, ca: this.ca });
  }
}

/** Puts an assets payload of a SimAgent in the store (and a history point) and announces it. */
export async function putAssets(f: Fixture, a: SimAgent, level: string, score: number, plcScore = score, received_ms = Date.now()): Promise<void> {
  const payload = { ...JSON.parse(a.assets()), site_level: level, site_score: score };
  payload.devices[0].risk_score = plcScore;
  payload.devices[0].active_alerts = plcScore > 0 ? 1 : 0;
  payload.devices[0].identity = { vendor: 'otsentry-sim', product_code: 'TANK-1' };
  const rec = { site: a.site, agent: a.agent, payload, received_ms };
  await f.store.putAssets(rec);
  f.feed.emit('assets', rec);
}

/** Stores the agent's next signal (a draft over the default one) as verified and announces it. */
export async function putSignal(f: Fixture, a: SimAgent, over: Partial<SignalDraft> = {}): Promise<StoredSignal> {
  const s = a.next({ ...a.draft(), ts: new Date().toISOString(), ...over });
  const input = { ...s, verdict: 'verified' as const, received_ms: Date.now() };
  const { arrivals } = await f.store.insertSignals([input]);
  const stored = { ...input, arrival: arrivals[0]! };
  f.feed.emit('signal', stored);
  const rec = await f.store.touchAgent(a.site, a.agent, { status_state: 'online', status: JSON.parse(a.status()), last_seq: s.signal.seq, last_seq_ms: Date.now() }, Date.now());
  await f.store.advanceChain(a.site, a.agent, rec.chain_seq, { chain_seq: s.signal.seq, chain_hash: s.signal.hash });
  f.feed.emit('agent', (await f.store.getAgent(a.site, a.agent))!);
  return stored;
}
