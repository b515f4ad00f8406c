// The security team's web console, served by the central process (node:http, HTTPS when
// console.tls is set): login with a session cookie, read endpoints for the pages, the response
// steps on alerts (responder role, CSRF token), and a Server-Sent Events stream of what central
// stores. It reads the store and writes only response records: nothing here reaches a PLC.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../../protocols/log.js';
import { resolveSecret } from '../../config/secrets.js';
import type { CentralFeed } from '../feed.js';
import type { CentralPart, PartStarter } from '../parts.js';
import type { CentralStore, ResponseAction } from '../store/types.js';
import { addStep, getAlert, listAlerts } from './alerts.js';
import { agentsList, findingsList, signalsList, siteDetail, sitesOverview } from './api.js';
import { LOOPBACK, type ConsoleConfig } from './config.js';
import { HttpError, loadStatic, parseCookies, readJson, securityHeaders, sendJson, staticDir } from './http.js';
import { registerConsoleMetrics } from './metrics.js';
import { hashPassword, verifyPassword } from './password.js';
import { csrfMatches, LoginThrottle, Sessions, type Session } from './sessions.js';
import { openEventStream } from './stream.js';

export interface ConsoleOptions {
  config: ConsoleConfig;
  store: CentralStore;
  feed: CentralFeed;
  log: Logger;
  version: string;
  /** folder of the config file: TLS file paths start here */
  baseDir: string;
  /** central's Prometheus registry, when it serves metrics */
  metrics?: Registry;
  now?: () => number;
}

export interface ConsoleServer extends CentralPart {
  url: string;
  port: number;
}

export class ConsoleStartError extends Error {
  readonly code = 'console_start';
}

const MAX_BODY = 16 * 1024;
const MAX_TEXT = 4000;
const ACTIONS: readonly ResponseAction[] = ['ack', 'assign', 'annotate', 'resolve'];
/** What the text of a step means, for the message when it is missing. */
const TEXT_NEEDED: Partial<Record<ResponseAction, string>> = { assign: 'the assignee', annotate: 'the note', resolve: 'the summary' };

function tlsOptions(c: NonNullable<ConsoleConfig['tls']>, baseDir: string): https.ServerOptions {
  const read = (p: string, where: string) => {
    try {
      return fs.readFileSync(path.resolve(baseDir, p));
    } catch (e) {
      throw new ConsoleStartError(`console.tls.${where}: cannot read ${path.resolve(baseDir, p)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give the PEM file's path, relative to the config file`);
    }
  };
  return { cert: read(c.cert_file, 'cert_file'), key: read(c.key_file, 'key_file'), passphrase: c.key_passphrase && resolveSecret(c.key_passphrase, baseDir, 'console.tls.key_passphrase'), minVersion: 'TLSv1.2' };
}

export async function startConsoleServer(o: ConsoleOptions): Promise<ConsoleServer> {
  const c = o.config;
  const now = o.now ?? Date.now;
  const log = o.log.child({ stage: 'console' });
  const tls = c.tls !== undefined;
  const files = loadStatic(staticDir());
  const sessions = new Sessions(c.session_idle_mins * 60_000, c.session_max_hours * 3_600_000, now);
  const throttle = new LoginThrottle(c.login_max_failures, c.login_window_secs * 1000, now);
  const users = new Map(c.users.map((u) => [u.name, u]));
  // Unknown names are checked against a hash of the same cost, so timing does not tell which names exist.
  const cost = /ln=(\d+),r=(\d+),p=(\d+)/.exec(c.users[0]!.password_hash)!;
  const dummyHash = await hashPassword('not a password', { ln: Number(cost[1]), r: Number(cost[2]), p: Number(cost[3]) });
  const cookieName = tls ? '__Host-otsentry' : 'otsentry_session';
  const cookieAttrs = `Path=/; HttpOnly; SameSite=Strict${tls ? '; Secure' : ''}`;
  const security = securityHeaders(tls);
  /** Response steps taken here, for the open event streams (the feed carries what ingest stores). */
  const steps = new EventEmitter<{ step: [{ alert: string; action: ResponseAction; by: string; ts_ms: number }] }>();
  steps.setMaxListeners(0);
  const streams = new Set<() => void>();
  const metrics = registerConsoleMetrics(o.metrics, () => sessions.size, () => streams.size);

  const sendFile = (res: http.ServerResponse, name: string) => {
    const f = files.get(name);
    if (!f) throw new HttpError(404, 'not found');
    res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.body.length, 'Cache-Control': 'no-cache' });
    res.end(f.body);
  };

  /** A state-changing request must come from a page of this console. */
  const checkOrigin = (req: http.IncomingMessage) => {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `${tls ? 'https' : 'http'}://${req.headers.host}`) throw new HttpError(403, 'cross-origin request refused');
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'cross-site request refused');
  };

  const login = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    checkOrigin(req);
    const body = await readJson(req, MAX_BODY);
    const name = typeof body.name === 'string' ? body.name.slice(0, 200) : '';
    const password = typeof body.password === 'string' ? body.password : '';
    if (name === '' || password === '' || password.length > 1024) throw new HttpError(400, 'give name and password');
    const keys = [`ip:${req.socket.remoteAddress ?? ''}`, `user:${name}`];
    const wait = throttle.waitSecs(keys);
    if (wait > 0) {
      metrics.login('throttled');
      log.warn({ user: name, ip: req.socket.remoteAddress, error_code: 'login_throttled' }, 'Console login refused: too many failed logins.');
      throw new HttpError(429, `too many failed logins; try again in ${wait} s`, { 'Retry-After': String(wait) });
    }
    const user = users.get(name);
    const ok = await verifyPassword(password, user?.password_hash ?? dummyHash);
    if (!user || !ok) {
      throttle.fail(keys);
      metrics.login('failed');
      log.warn({ user: name, ip: req.socket.remoteAddress, error_code: 'login_failed' }, 'Console login failed.');
      throw new HttpError(401, 'wrong name or password');
    }
    throttle.succeed(keys);
    metrics.login('ok');
    const { token, session } = sessions.create(user.name, user.role);
    log.info({ user: user.name, role: user.role, ip: req.socket.remoteAddress }, 'Console login.');
    sendJson(res, 200, { name: session.name, role: session.role, csrf: session.csrf }, { 'Set-Cookie': `${cookieName}=${token}; ${cookieAttrs}; Max-Age=${c.session_max_hours * 3600}` });
  };

  const step = async (req: http.IncomingMessage, res: http.ServerResponse, s: Session, id: string) => {
    if (s.role !== 'responder') throw new HttpError(403, `${s.name} has the ${s.role} role; responding to alerts needs the responder role`);
    const body = await readJson(req, MAX_BODY);
    const action = body.action as ResponseAction;
    if (!ACTIONS.includes(action)) throw new HttpError(400, `action must be one of ${ACTIONS.join(', ')}`);
    const text = typeof body.text === 'string' ? body.text.trim() : undefined;
    if (text !== undefined && text.length > MAX_TEXT) throw new HttpError(400, `text over ${MAX_TEXT} characters`);
    const needs = TEXT_NEEDED[action];
    if (needs !== undefined && !text) throw new HttpError(400, `${action} needs text: ${needs}`);
    const t = now();
    const r = await addStep(o.store, id, action, s.name, needs === undefined ? undefined : text, t);
    if (!r.ok) throw new HttpError(r.status, r.message);
    log.info({ alert: id, action, user: s.name }, `Alert ${action} by ${s.name}.`);
    steps.emit('step', { alert: id, action, by: s.name, ts_ms: t });
    metrics.step(action);
    sendJson(res, 200, r.alert);
  };

  const api = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL, s: Session, token: string) => {
    let parts: string[];
    try {
      parts = url.pathname.split('/').slice(2).map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the path');
    }
    const [what, id, sub] = parts;
    if (req.method === 'POST') {
      checkOrigin(req);
      if (!csrfMatches(s, req.headers['x-csrf-token'] as string | undefined)) throw new HttpError(403, 'missing or wrong X-CSRF-Token; reload the page');
      if (what === 'logout' && parts.length === 1) {
        sessions.end(token);
        log.info({ user: s.name }, 'Console logout.');
        return sendJson(res, 200, { ok: true }, { 'Set-Cookie': `${cookieName}=; ${cookieAttrs}; Max-Age=0` });
      }
      if (what === 'alerts' && id && sub === 'steps' && parts.length === 3) return step(req, res, s, id);
      throw new HttpError(404, 'not found');
    }
    if (req.method !== 'GET') throw new HttpError(405, 'method not allowed', { Allow: 'GET, POST' });
    const q = url.searchParams;
    if (parts.length === 1) {
      if (what === 'session') return sendJson(res, 200, { name: s.name, role: s.role, csrf: s.csrf, version: o.version });
      if (what === 'sites') return sendJson(res, 200, await sitesOverview(o.store, now()));
      if (what === 'agents') return sendJson(res, 200, await agentsList(o.store));
      if (what === 'signals') return sendJson(res, 200, await signalsList(o.store, q));
      if (what === 'findings') return sendJson(res, 200, await findingsList(o.store, q));
      if (what === 'alerts') return sendJson(res, 200, { alerts: await listAlerts(o.store, { site: q.get('site') ?? undefined, resolved: q.get('resolved') === '1' }) });
      if (what === 'events') return openEventStream(req, res, { feed: o.feed, steps, alive: () => sessions.get(token, false) !== undefined, streams });
    }
    if (parts.length === 2 && what === 'sites' && id) {
      const d = await siteDetail(o.store, id, q, now());
      return d ? sendJson(res, 200, d) : sendJson(res, 404, { error: `no site ${id}` });
    }
    if (parts.length === 2 && what === 'alerts' && id) {
      const a = await getAlert(o.store, id);
      return a ? sendJson(res, 200, a) : sendJson(res, 404, { error: `no alert ${id}` });
    }
    throw new HttpError(404, 'not found');
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    for (const [k, v] of Object.entries(security)) res.setHeader(k, v);
    try {
      // A page of another site whose name was rebound to 127.0.0.1 must not reach a loopback console.
      if (loopback && !hostAllowed(req.headers.host)) throw new HttpError(421, `Host ${req.headers.host ?? '(none)'} is not this console's; add it to console.allowed_hosts if a proxy sends it`);
      const url = new URL(req.url ?? '/', 'http://console');
      const get = req.method === 'GET';
      if (get && url.pathname === '/login') return sendFile(res, 'login.html');
      if (get && url.pathname.startsWith('/static/')) return sendFile(res, url.pathname.slice('/static/'.length));
      if (req.method === 'POST' && url.pathname === '/api/login') return await login(req, res);
      const token = parseCookies(req.headers.cookie)[cookieName];
      const s = sessions.get(token);
      if (get && url.pathname === '/') {
        if (s) return sendFile(res, 'index.html');
        res.writeHead(303, { Location: '/login' });
        return res.end();
      }
      if (!url.pathname.startsWith('/api/')) throw new HttpError(404, 'not found');
      if (!s) throw new HttpError(401, 'log in first');
      return await api(req, res, url, s, token!);
    } catch (e) {
      if (res.headersSent) return void res.destroy();
      if (e instanceof HttpError) return sendJson(res, e.status, { error: e.message }, e.headers);
      log.error({ err: (e as Error).message, error_code: 'console_request' }, 'Console request failed.');
      sendJson(res, 500, { error: 'internal error; the central log has the details' });
    }
  };

  let port = 0;
  const allowed = new Set(c.allowed_hosts.map((h) => h.toLowerCase()));
  const hostAllowed = (h: string | undefined) => {
    if (h === undefined) return false;
    const v = h.toLowerCase();
    const name = v.replace(/:\d+$/, '');
    if (allowed.has(v) || allowed.has(name)) return true;
    return v.endsWith(`:${port}`) && LOOPBACK.test(name);
  };
  const server = tls ? https.createServer(tlsOptions(c.tls!, o.baseDir), (q, r) => void handle(q, r)) : http.createServer((q, r) => void handle(q, r));
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  const i = c.listen.lastIndexOf(':');
  const host = c.listen.slice(0, i).replace(/^\[|\]$/g, '');
  const loopback = LOOPBACK.test(c.listen.slice(0, i));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new ConsoleStartError(`console.listen ${c.listen}: ${e.code === 'EADDRINUSE' ? 'the address is in use; choose another port' : e.code === 'EACCES' ? 'permission denied; use a port above 1023' : e.code === 'EADDRNOTAVAIL' ? 'no such address on this host' : e.message}`)),
    );
    server.listen(Number(c.listen.slice(i + 1)), host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  log.info({ url, users: c.users.length }, 'Console listening.');
  return {
    name: 'console',
    url,
    port,
    async stop() {
      for (const end of [...streams]) end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The central process's starter: no console when the section is absent or turned off. */
export const startConsolePart: PartStarter = async (ctx) => {
  const c = ctx.config.console;
  if (c === undefined || !c.enabled) return undefined;
  return startConsoleServer({ config: c, store: ctx.store, feed: ctx.feed, log: ctx.log, version: ctx.version, baseDir: ctx.baseDir, metrics: ctx.metrics });
};
