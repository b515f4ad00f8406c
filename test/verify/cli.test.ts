// `otsentry verify` and `otsentry key` as users run them (node dist/agent/cli.js): captures in
// both formats, exit codes 0/1/2/3, bad lines named by number, never a stack trace.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOutbox } from '../../agent/outbox/index.js';
import { distEntry } from '../helpers/broker.js';
import { tempDir, writeAgentConfig } from '../e2e/harness.js';
import { bySeverity, drafts } from '../outbox/drafts.js';

function otsentry(args: string[], input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { encoding: 'utf8', input, timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

/** An agent config and its data_dir with an outbox of signed events (some dropped by retention). */
function agentWithEvents(): { dir: string; config: string; status: string; events: string[] } {
  const dir = tempDir('verify-cli');
  const config = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1883', plcs: [{ id: 'plc1', host: '127.0.0.1', port: 5020 }] });
  const box = openOutbox(path.join(dir, 'data'), 'gw-e2e', 'lab', { max_events: 12, max_bytes: 1e9, max_age_hours: 720 });
  box.append([...bySeverity('info', 8), ...drafts(4, { severity: 'high' })]);
  box.append(drafts(6, { severity: 'high' }));
  const events = box.pending(100).map((e) => e.payload);
  const status = JSON.stringify({ state: 'online', agent: 'gw-e2e', site: 'lab', signing_key: box.signer.info });
  box.close();
  return { dir, config, status, events };
}

function mosquittoSubLines(a: { status: string; events: string[] }): string {
  return [`otsentry/lab/gw-e2e/status ${a.status}`, ...a.events.map((p) => `otsentry/lab/gw-e2e/events ${p}`)].join('\n') + '\n';
}

describe('otsentry verify', () => {
  it('verifies a mosquitto_sub -v capture with the key from its status line (exit 0)', () => {
    const a = agentWithEvents();
    const file = path.join(a.dir, 'capture.txt');
    fs.writeFileSync(file, mosquittoSubLines(a));
    const r = otsentry(['verify', file]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('lab/gw-e2e: OK');
    expect(r.out).toMatch(/key {9}[0-9a-f]{16} \(from status message, line 1\)/);
    expect(r.out).toMatch(/gaps {8}1 gap: 1-\d+ \(gap event seq \d+\)\n/);
    expect(r.out).toContain('verified: no problems.');
  });

  it('verifies JSONL from stdin with --key and prints JSON for scripts', () => {
    const a = agentWithEvents();
    const key = path.join(a.dir, 'agent.pub.pem');
    const printed = otsentry(['key', '--config', a.config]);
    expect(printed.code).toBe(0);
    fs.writeFileSync(key, printed.out);
    const r = otsentry(['verify', '--key', key, '--json'], a.events.join('\n') + '\n');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.ok).toBe(true);
    expect(out.agents[0]).toMatchObject({ site: 'lab', agent: 'gw-e2e', unique: a.events.length, signatures_ok: a.events.length, hashes_ok: a.events.length });
    expect(out.agents[0].keys[0].source).toBe(`--key ${key}`);
  });

  it('exits 3 naming the seq of an event with one byte edited', () => {
    const a = agentWithEvents();
    const target = JSON.parse(a.events[3]!) as { seq: number; message: string };
    a.events[3] = a.events[3]!.replace('"message":"P', '"message":"Q');
    const r = otsentry(['verify', '--json'], mosquittoSubLines(a));
    expect(r.code).toBe(3);
    const out = JSON.parse(r.out);
    expect(out.agents[0].problems).toEqual([expect.objectContaining({ code: 'edited', seq: target.seq, line: 5 })]);
  });

  it('names unreadable lines by number and still verifies the rest (exit 3)', () => {
    const a = agentWithEvents();
    // An empty retained message prints as its topic alone (or with "(null)"): not a problem.
    const text = mosquittoSubLines(a).replace(/\n/, '\ngarbage\notsentry/lab/gw-e2e/events {"seq": 99, broken\notsentry/lab/gw-old/status\notsentry/lab/gw-old/assets (null)\n');
    const r = otsentry(['verify'], text);
    expect(r.code).toBe(3);
    expect(r.out).toContain('! line 2: neither a JSON signal nor `topic payload`');
    expect(r.out).toMatch(/! line 3: not JSON \(.*\) \(it looks like seq 99\)\./);
    expect(r.out).toContain('lab/gw-e2e: OK');
    noStack(r.out + r.err);
  });

  it('exits 1 for a file it cannot read or input without signals, 2 for usage errors', () => {
    const missing = otsentry(['verify', '/nonexistent/capture.txt']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('capture /nonexistent/capture.txt cannot be read (ENOENT)');
    const empty = otsentry(['verify'], 'otsentry/lab/gw/other hello\n');
    expect(empty.code).toBe(1);
    expect(empty.err).toContain('no risk signals in the input');
    const usage = otsentry(['verify', '--count', '5']);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--duration and --count need --broker');
    noStack(missing.err + empty.err + usage.err);
  });
});

describe('otsentry key', () => {
  it('prints key id and public key PEM, or JSON', () => {
    const a = agentWithEvents();
    const text = otsentry(['key', '--config', a.config]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^key_id: [0-9a-f]{16}\nalgorithm: Ed25519\n-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    const json = JSON.parse(otsentry(['key', '--config', a.config, '--json']).out);
    expect(json).toMatchObject({ algorithm: 'Ed25519', key_id: JSON.parse(a.status).signing_key.key_id, public_key: JSON.parse(a.status).signing_key.public_key });
  });

  it('says where the key comes from when the agent never ran', () => {
    const dir = tempDir('verify-key');
    const config = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1883', plcs: [{ id: 'plc1', host: '127.0.0.1', port: 5020 }] });
    const r = otsentry(['key', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`signing key ${path.join(dir, 'data', 'signing_key.pem')} is missing. It is made at the agent's first start`);
    noStack(r.err);
  });
});
