// The console over HTTP: logins, roles, CSRF, sessions, throttling, every endpoint refusing without
// a session, the response process with who and when, the live stream, and TLS.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimAgent } from '../../../bench/central/simagent.js';
import { Client, PASSWORDS, putAssets, putSignal, request, startFixture, type Fixture } from './fixture.js';

let f: Fixture;
afterEach(async () => {
  await f?.stop();
});

const high = { state: 'raised' as const, severity: 'high' as const, rule: 'setpoint-range', tag: 'setpoint', message: 'setpoint 95 above 80' };

describe('console HTTP', () => {
  it('sends the login page to anyone and the app only with a session, with security headers', async () => {
    f = await startFixture();
    const root = await request(f.url, 'GET', '/');
    expect(root.status).toBe(303);
    expect(root.headers.location).toBe('/login');
    const login = await request(f.url, 'GET', '/login');
    expect(login.status).toBe(200);
    expect(login.text).toContain('<form id="login"');
    expect(login.headers['content-security-policy']).toContain("script-src 'self'");
    expect(login.headers['x-frame-options']).toBe('DENY');
    expect((await request(f.url, 'GET', '/static/app.js')).headers['content-type']).toContain('text/javascript');
    expect((await request(f.url, 'GET', '/static/../server.ts')).status).toBe(404);
    const c = new Client(f.url);
    await c.login('victor', PASSWORDS.victor);
    const app = await c.get('/');
    expect(app.status).toBe(200);
    expect(app.text).toContain('/static/app.js');
  });

  it('refuses a Host header that is not its own on loopback (DNS rebinding), unless allowed', async () => {
    f = await startFixture({ allowed_hosts: ['console.plant.example'] });
    const port = new URL(f.url).port;
    expect((await request(f.url, 'GET', '/login', { headers: { Host: `evil.example:${port}` } })).status).toBe(421);
    expect((await request(f.url, 'POST', '/api/login', { body: { name: 'alice', password: PASSWORDS.alice }, headers: { Host: `evil.example:${port}` } })).status).toBe(421);
    expect((await request(f.url, 'GET', '/login', { headers: { Host: '127.0.0.1:1' } })).status).toBe(421);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'console.plant.example', 'console.plant.example:443']) {
      expect((await request(f.url, 'GET', '/login', { headers: { Host: host } })).status, host).toBe(200);
    }
  });

  it('refuses every API endpoint without a session, and with a made-up cookie', async () => {
    f = await startFixture();
    const endpoints: Array<[string, string]> = [
      ['GET', '/api/session'], ['GET', '/api/sites'], ['GET', '/api/sites/plant-a'], ['GET', '/api/agents'], ['GET', '/api/signals'],
      ['GET', '/api/findings'], ['GET', '/api/alerts'], ['GET', '/api/alerts/x'], ['GET', '/api/events'], ['GET', '/api/nothing'],
      ['POST', '/api/logout'], ['POST', '/api/alerts/x/steps'], ['PUT', '/api/alerts/x'], ['DELETE', '/api/alerts/x'],
    ];
    for (const [method, p] of endpoints) {
      for (const cookie of [undefined, 'otsentry_session=forged-token']) {
        const r = await request(f.url, method, p, { body: method === 'GET' ? undefined : { action: 'ack' }, headers: cookie ? { Cookie: cookie, 'X-CSRF-Token': 'x' } : {} });
        expect(r.status, `${method} ${p} ${cookie ?? ''}`).toBe(401);
      }
    }
    expect(await f.store.listResponses()).toEqual([]);
  });

  it('logs in with the right password only; the cookie is HttpOnly and SameSite=Strict', async () => {
    f = await startFixture();
    const c = new Client(f.url);
    expect((await c.login('alice', 'wrong password')).status).toBe(401);
    expect((await c.login('mallory', 'whatever password')).status).toBe(401);
    expect((await c.login('alice', '')).status).toBe(400);
    const ok = await c.login('alice', PASSWORDS.alice);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ name: 'alice', role: 'responder' });
    const cookie = ok.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^otsentry_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).not.toContain('Secure'); // plain HTTP on loopback
    expect((await c.get('/api/session')).json).toMatchObject({ name: 'alice', role: 'responder', csrf: c.csrf });
  });

  it('throttles logins per name and per client address, then lets them in after the window', async () => {
    f = await startFixture({ login_max_failures: 3, login_window_secs: 60 });
    f.clock.ms = 1_000_000;
    const c = new Client(f.url);
    for (let i = 0; i < 3; i++) expect((await c.login('alice', `wrong ${i}`)).status).toBe(401);
    const blocked = await c.login('alice', PASSWORDS.alice);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // The same address is blocked for other names too.
    expect((await c.login('victor', PASSWORDS.victor)).status).toBe(429);
    f.clock.ms += 61_000;
    expect((await c.login('alice', PASSWORDS.alice)).status).toBe(200);
    const text = await f.metrics.metrics();
    expect(text).toContain('otsentry_central_console_logins_total{result="failed"} 3');
    expect(text).toContain('otsentry_central_console_logins_total{result="throttled"} 2');
    expect(text).toContain('otsentry_central_console_logins_total{result="ok"} 1');
    expect(text).toContain('otsentry_central_console_sessions 1');
  });

  it('ends sessions on logout, after idle time and after their lifetime', async () => {
    f = await startFixture({ session_idle_mins: 5, session_max_hours: 1 });
    f.clock.ms = 1_000_000;
    const c = new Client(f.url);
    await c.login('victor', PASSWORDS.victor);
    expect((await c.post('/api/logout', {})).status).toBe(200);
    expect((await c.get('/api/sites')).status).toBe(401);
    await c.login('victor', PASSWORDS.victor);
    f.clock.ms += 4 * 60_000;
    expect((await c.get('/api/sites')).status).toBe(200);
    f.clock.ms += 6 * 60_000;
    expect((await c.get('/api/sites')).status).toBe(401);
    await c.login('victor', PASSWORDS.victor);
    for (let i = 0; i < 14; i++) {
      f.clock.ms += 4 * 60_000;
      expect((await c.get('/api/sites')).status).toBe(200);
    }
    f.clock.ms += 4 * 60_000 + 1; // 60 min after login, though active
    expect((await c.get('/api/sites')).status).toBe(401);
  });

  it('refuses state changes without the CSRF token, from another origin, or not as JSON', async () => {
    f = await startFixture();
    const a = new SimAgent('plant-a', 'gw-1');
    const s = await putSignal(f, a, high);
    const c = new Client(f.url);
    await c.login('alice', PASSWORDS.alice);
    const p = `/api/alerts/${s.signal.id}/steps`;
    expect((await c.post(p, { action: 'ack' }, {})).status).toBe(403);
    expect((await c.post(p, { action: 'ack' }, { 'X-CSRF-Token': 'wrong' })).status).toBe(403);
    expect((await c.post(p, { action: 'ack' }, { 'X-CSRF-Token': c.csrf, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await c.post(p, { action: 'ack' }, { 'X-CSRF-Token': c.csrf, 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await c.post(p, 'action=ack', { 'X-CSRF-Token': c.csrf, 'Content-Type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await c.post('/api/logout', {}, {})).status).toBe(403);
    expect(await f.store.listResponses()).toEqual([]);
    // A login from another site's page is refused too (login CSRF).
    expect((await request(f.url, 'POST', '/api/login', { body: { name: 'alice', password: PASSWORDS.alice }, headers: { Origin: 'http://evil.example' } })).status).toBe(403);
    const ok = await c.post(p, { action: 'ack' }, { 'X-CSRF-Token': c.csrf, Origin: f.url });
    expect(ok.status).toBe(200);
  });

  it('lets a viewer read but not respond; a responder responds', async () => {
    f = await startFixture();
    const s = await putSignal(f, new SimAgent('plant-a', 'gw-1'), high);
    const v = new Client(f.url);
    await v.login('victor', PASSWORDS.victor);
    expect((await v.get('/api/alerts')).json.alerts.map((x: { id: string }) => x.id)).toEqual([s.signal.id]);
    const refused = await v.post(`/api/alerts/${s.signal.id}/steps`, { action: 'ack' });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toContain('responder role');
    expect(await f.store.listResponses()).toEqual([]);
    const r = new Client(f.url);
    await r.login('alice', PASSWORDS.alice);
    expect((await r.post(`/api/alerts/${s.signal.id}/steps`, { action: 'ack' })).status).toBe(200);
  });

  it('records acknowledge, assign, note and resolve with who and when; a resolved alert leaves the open list', async () => {
    f = await startFixture();
    const a = new SimAgent('plant-a', 'gw-1');
    const s = await putSignal(f, a, high);
    await f.store.addFinding({ code: 'forged', severity: 'critical', site: 'plant-a', agent: 'gw-1', seq: 9, message: 'signal seq 9 does not verify.', ts_ms: Date.now() });
    const c = new Client(f.url);
    await c.login('alice', PASSWORDS.alice);
    const listed = (await c.get('/api/alerts')).json.alerts as Array<{ id: string; kind: string; rule: string; state: string }>;
    expect(listed.map((x) => [x.kind, x.rule, x.state]).sort()).toEqual([['finding', 'forged', 'open'], ['signal', 'setpoint-range', 'open']]);
    const id = s.signal.id;
    const p = `/api/alerts/${id}/steps`;
    f.clock.ms = 1_700_000_000_000;
    expect((await c.post(p, { action: 'ack' })).json.state).toBe('acknowledged');
    expect((await c.post(p, { action: 'ack' })).status).toBe(409);
    expect((await c.post(p, { action: 'assign' })).status).toBe(400);
    expect((await c.post(p, { action: 'explode' })).status).toBe(400);
    expect((await c.post(p, { action: 'assign', text: 'bob' })).json.assignee).toBe('bob');
    await c.post(p, { action: 'annotate', text: 'operator changed the setpoint by hand?' });
    f.clock.ms += 60_000;
    const done = await c.post(p, { action: 'resolve', text: 'maintenance test, setpoint restored' });
    expect(done.json).toMatchObject({ state: 'resolved', resolved_by: 'alice', summary: 'maintenance test, setpoint restored' });
    expect(done.json.history.map((h: { action: string; by: string; ts_ms: number; text?: string }) => [h.action, h.by, h.ts_ms, h.text])).toEqual([
      ['ack', 'alice', 1_700_000_000_000, undefined],
      ['assign', 'alice', 1_700_000_000_000, 'bob'],
      ['annotate', 'alice', 1_700_000_000_000, 'operator changed the setpoint by hand?'],
      ['resolve', 'alice', 1_700_000_060_000, 'maintenance test, setpoint restored'],
    ]);
    expect((await c.post(p, { action: 'annotate', text: 'late' })).status).toBe(409);
    expect(await f.metrics.metrics()).toMatch(/otsentry_central_console_response_steps_total\{action="resolve"\} 1/);
    expect((await c.get('/api/alerts')).json.alerts.map((x: { rule: string }) => x.rule)).toEqual(['forged']);
    expect((await c.get('/api/alerts?resolved=1')).json.alerts.length).toBe(2);
    expect((await c.post('/api/alerts/no-such-alert/steps', { action: 'ack' })).status).toBe(404);
    expect((await c.post('/api/alerts/finding:99999/steps', { action: 'ack' })).status).toBe(404);
    const fid = listed.find((x) => x.kind === 'finding')!.id;
    expect((await c.post(`/api/alerts/${encodeURIComponent(fid)}/steps`, { action: 'ack' })).json).toMatchObject({ kind: 'finding', rule: 'forged', state: 'acknowledged' });
  });

  it('shows sites with their level timeline, agents with chain state, devices with a risk series', async () => {
    f = await startFixture();
    const a = new SimAgent('plant-a', 'gw-1');
    const t0 = Date.now() - 60_000;
    await putAssets(f, a, 'normal', 0, 0, t0);
    await putSignal(f, a, high);
    await putAssets(f, a, 'severe', 90, 90, t0 + 30_000);
    await f.store.advanceChain('plant-a', 'gw-1', 1, { chain_seq: 1, chain_state: 'broken' });
    const c = new Client(f.url);
    await c.login('victor', PASSWORDS.victor);
    const sites = (await c.get('/api/sites')).json;
    expect(sites.sites).toMatchObject([{ site: 'plant-a', level: 'severe', score: 90, agents: 1, online: 1, devices: 1, chain: 'broken', open_alerts: 1 }]);
    expect(sites.sites[0].timeline.map((x: { level: string }) => x.level)).toEqual(['normal', 'severe']);
    const d = (await c.get('/api/sites/plant-a')).json;
    expect(d.agents).toMatchObject([{ agent: 'gw-1', status: 'online', chain_state: 'broken' }]);
    expect(d.devices).toMatchObject([{ id: 'plc-1', agent: 'gw-1', risk_score: 90, open_alerts: 1, identity: { vendor: 'otsentry-sim' }, link: { state: 'up' } }]);
    expect(d.devices[0].series.map((p: { score: number }) => p.score)).toEqual([0, 90]);
    expect((await c.get('/api/sites/nowhere')).status).toBe(404);
    // An agent whose level did not change within the window holds its current level for all of it.
    const b = new SimAgent('plant-b', 'gw-2');
    await putAssets(f, b, 'high', 60, 60, Date.now() - 48 * 3600_000);
    const pb = (await c.get('/api/sites/plant-b')).json;
    expect(pb.timeline).toEqual([{ ms: pb.since_ms, level: 'high', score: 60 }]);
    expect(pb.devices[0].series).toEqual([{ ms: pb.since_ms, score: 60 }]);
    expect((await c.get('/api/signals?site=plant-a')).json.signals).toMatchObject([{ rule: 'setpoint-range', verdict: 'verified' }]);
  });

  it('streams stored signals and response steps to a logged-in browser', async () => {
    f = await startFixture();
    const c = new Client(f.url);
    await c.login('alice', PASSWORDS.alice);
    const got: string[] = [];
    const stream = await new Promise<http.IncomingMessage>((resolve) => http.get(`${f.url}/api/events`, { headers: { Cookie: c.cookie } }, resolve));
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toContain('text/event-stream');
    const seen = (what: string) => new Promise<void>((resolve) => {
      const on = () => got.some((x) => x.includes(what)) && (stream.off('data', on), resolve());
      stream.on('data', (b: Buffer) => void got.push(b.toString()));
      stream.on('data', on);
    });
    const s1 = seen('event: signal');
    const s = await putSignal(f, new SimAgent('plant-a', 'gw-1'), high);
    await s1;
    expect(got.join('')).toContain(s.signal.id);
    const s2 = seen('event: step');
    await c.post(`/api/alerts/${s.signal.id}/steps`, { action: 'ack' });
    await s2;
    expect(got.join('')).toMatch(/event: step\ndata: \{"alert":"[^"]+","action":"ack","by":"alice"/);
    stream.destroy();
  });

  it('serves HTTPS with a __Host- Secure cookie and HSTS when TLS is configured', async () => {
    const pki = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'otsentry-console-pki-'));
    fs.writeFileSync(path.join(pki, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: pki, stdio: 'ignore' });
    f = await startFixture({ tls: { cert_file: 'cert.pem', key_file: 'key.pem' } }, pki);
    expect(f.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = fs.readFileSync(path.join(pki, 'cert.pem'));
    const c = new Client(f.url, ca);
    const r = await c.login('alice', PASSWORDS.alice);
    expect(r.status).toBe(200);
    expect(r.headers['set-cookie']![0]).toMatch(/^__Host-otsentry=.*; Path=\/; HttpOnly; SameSite=Strict; Secure/);
    expect(r.headers['strict-transport-security']).toContain('max-age=');
    expect((await c.get('/api/session')).json.name).toBe('alice');
    await expect(request(f.url, 'GET', '/login')).rejects.toThrow(); // an untrusted certificate is refused by the client
    fs.rmSync(pki, { recursive: true, force: true });
  });
});
