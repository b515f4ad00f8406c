// The console's config section and password hashes: every problem named by its path, hashes that
// verify only the right password, the starter off when the section is, the hash-password command,
// and the static files found from dist/ too.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { centralConfigSchema } from '../../../agent/central/config/schema.js';
import { consoleConfigSchema } from '../../../agent/central/console/config.js';
import { staticDir } from '../../../agent/central/console/http.js';
import { hashPassword, passwordHashProblem, verifyPassword } from '../../../agent/central/console/password.js';
import { startConsolePart } from '../../../agent/central/console/server.js';
import { zodProblems } from '../../../protocols/problems.js';
import { packageRoot } from '../../../protocols/package.js';
import { distEntry } from '../../helpers/broker.js';

const FAST = { ln: 10, r: 8, p: 1 };

function problems(raw: unknown): string[] {
  const r = consoleConfigSchema.safeParse(raw);
  return r.success ? [] : zodProblems(r.error).map((p) => `${p.path}: ${p.message}`);
}

describe('console config and passwords', () => {
  it('hashes with scrypt in PHC form; only the right password verifies; a bad hash never does', async () => {
    const h = await hashPassword('a long enough password', FAST);
    expect(h).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await hashPassword('a long enough password', FAST)).not.toBe(h); // salted
    expect(await verifyPassword('a long enough password', h)).toBe(true);
    expect(await verifyPassword('a long enough passworD', h)).toBe(false);
    expect(await verifyPassword('a long enough password', h.replace('ln=10', 'ln=11'))).toBe(false);
    expect(await verifyPassword('x', 'plain text')).toBe(false);
    expect(passwordHashProblem(h)).toBeUndefined();
    expect(passwordHashProblem('secret123')).toContain('hash-password');
    expect(passwordHashProblem(h.replace('ln=10', 'ln=30'))).toContain('ln 10-20');
  });

  it('takes a minimal section with loopback defaults and names every problem by its path', async () => {
    const h = await hashPassword('a long enough password', FAST);
    const c = consoleConfigSchema.parse({ users: [{ name: 'alice', role: 'responder', password_hash: h }] });
    expect(c).toMatchObject({ enabled: true, listen: '127.0.0.1:8470', session_idle_mins: 30, session_max_hours: 12, login_max_failures: 5, login_window_secs: 900 });
    expect(problems({ users: [] })).toEqual(['users: add at least one user (name, role, password_hash)']);
    const all = problems({ users: [{ name: 'alice', role: 'admin', password_hash: 'hunter2' }], listn: 'x' });
    expect(all).toHaveLength(3);
    expect(all).toEqual(
      expect.arrayContaining([
        "listn: unknown key 'listn' (check the spelling; the README lists the allowed keys)",
        expect.stringMatching(/^users\[0\]\.role: .*viewer.*responder/),
        expect.stringMatching(/^users\[0\]\.password_hash: not a hash from `otsentry central hash-password`/),
      ]),
    );
    expect(problems({ users: [{ name: 'alice', role: 'viewer', password_hash: h }, { name: 'alice', role: 'viewer', password_hash: h }] })).toEqual(["users[1].name: user 'alice' is listed twice"]);
    expect(problems({ listen: '0.0.0.0:8470', users: [{ name: 'a', role: 'viewer', password_hash: h }] })[0]).toMatch(/^listen: 0\.0\.0\.0 is not loopback: .*set console\.tls/);
    expect(problems({ listen: '0.0.0.0:8470', tls: { cert_file: 'c.pem', key_file: 'k.pem' }, users: [{ name: 'a', role: 'viewer', password_hash: h }] })).toEqual([]);
    expect(problems({ listen: '[::1]:8470', users: [{ name: 'a', role: 'viewer', password_hash: h }] })).toEqual([]);
  });

  it('starts no console when the section is absent or turned off', async () => {
    const h = await hashPassword('a long enough password', FAST);
    const base = { broker: { url: 'mqtt://127.0.0.1:1883' } };
    const ctx = (raw: object) => ({ config: centralConfigSchema.parse(raw), baseDir: '.', dataDir: '.', store: undefined as never, feed: undefined as never, log: undefined as never, version: '0' });
    expect(await startConsolePart(ctx(base))).toBeUndefined();
    expect(await startConsolePart(ctx({ ...base, console: { enabled: false, users: [{ name: 'a', role: 'viewer', password_hash: h }] } }))).toBeUndefined();
  });

  it('finds the static files from the sources and from dist/', () => {
    const fromDist = pathToFileURL(path.join(packageRoot(), 'dist', 'agent', 'central', 'console', 'http.js')).href;
    expect(staticDir(fromDist)).toBe(path.join(packageRoot(), 'agent', 'central', 'console', 'static'));
    expect(staticDir()).toBe(path.join(packageRoot(), 'agent', 'central', 'console', 'static'));
  });

  it('`otsentry central hash-password --stdin` prints a hash that verifies, and refuses a short password', async () => {
    const cli = distEntry('agent/cli.js');
    const ok = spawnSync(process.execPath, [cli, 'central', 'hash-password', '--stdin'], { input: 'correct horse battery staple\n', encoding: 'utf8' });
    expect(ok.status).toBe(0);
    const hash = ok.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$/);
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    const short = spawnSync(process.execPath, [cli, 'central', 'hash-password', '--stdin'], { input: 'short\n', encoding: 'utf8' });
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('use at least 12');
    expect(short.stdout).toBe('');
    const noTty = spawnSync(process.execPath, [cli, 'central', 'hash-password'], { input: '', encoding: 'utf8' });
    expect(noTty.status).toBe(1);
    expect(noTty.stderr).toContain('--stdin');
  });
});

describe('deploy/central.yaml console block', () => {
  it('names each placeholder password_hash until hashes are pasted in, then parses', async () => {
    const { parse } = await import('yaml');
    const fs = await import('node:fs');
    const raw = parse(fs.readFileSync(path.join(packageRoot(), 'deploy', 'central.yaml'), 'utf8')) as { console: { users: Array<{ password_hash: string }> } };
    const before = centralConfigSchema.safeParse(raw);
    expect(before.success).toBe(false);
    expect(zodProblems(before.error!).map((p) => p.path)).toEqual(['console.users[0].password_hash', 'console.users[1].password_hash']);
    for (const u of raw.console.users) u.password_hash = await hashPassword('a long enough password', FAST);
    const after = centralConfigSchema.parse(raw);
    expect(after.console).toMatchObject({ enabled: true, listen: '127.0.0.1:8470', users: [{ role: 'responder' }, { role: 'viewer' }] });
  });
});

describe('demo console section', () => {
  it('is a loopback console with one responder whose printed password verifies', async () => {
    const { demoConsole } = await import('../../../agent/central/console/demo.js');
    const d = await demoConsole();
    expect(d.section).toMatchObject({ enabled: true, listen: '127.0.0.1:0', users: [{ name: 'demo', role: 'responder' }] });
    expect(d.login.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(await verifyPassword(d.login.password, d.section.users[0]!.password_hash)).toBe(true);
  });
});

describe('hash-password on a terminal', () => {
  // python3's pty module gives the command a real terminal (python3 is installed for the Modbus interop tests).
  const onPty = (answers: string[]) => {
    const script = `
import os, pty, sys, time, select, json
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], 'central', 'hash-password'])
out = b''
def until(token, t=60):
    global out
    end = time.time() + t
    while token not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: out += os.read(fd, 1024)
            except OSError: return
for prompt, answer in zip([b'Password: ', b'Again: '], json.loads(sys.argv[3])):
    until(prompt)
    os.write(fd, answer.encode() + b'\\r')
until(b'\\n', 1)
while True:
    try:
        chunk = os.read(fd, 4096)
        if not chunk: break
        out += chunk
    except OSError: break
_, status = os.waitpid(pid, 0)
sys.stdout.write(json.dumps({'out': out.decode(), 'code': os.waitstatus_to_exitcode(status)}))
`;
    const r = spawnSync('python3', ['-c', script, process.execPath, distEntry('agent/cli.js'), JSON.stringify(answers)], { encoding: 'utf8', timeout: 60_000 });
    return JSON.parse(r.stdout) as { out: string; code: number };
  };

  it('asks twice without echo and prints a hash that verifies', async () => {
    const r = onPty(['correct horse battery', 'correct horse battery']);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('correct horse');
    const hash = /\$scrypt\$\S+/.exec(r.out)![0];
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
  });

  it('prints nothing when the two answers differ', () => {
    const r = onPty(['correct horse battery', 'correct horse batterY']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('the two passwords differ');
    expect(r.out).not.toContain('$scrypt$');
  });
});
