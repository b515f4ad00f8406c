// Pure parts of OPC UA support, table-driven: NodeId parsing, the device schema, value and quality
// decoding, error translation, and the posture detector over posture facts. No server needed.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../agent/config/load.js';
import { opcuaDeviceSchema } from '../../../protocols/opcua/config.js';
import { decodeVariant, qualityOf } from '../../../protocols/opcua/decode.js';
import { asOpcuaError } from '../../../protocols/opcua/errors.js';
import { parseNodeId, resolveNodeId } from '../../../protocols/opcua/nodeid.js';
import { certificateInfo, firstCertificate } from '../../../protocols/opcua/pki.js';
import { trustFromConfig } from '../../../protocols/opcua/trust.js';
import { TagSubscription } from '../../../protocols/opcua/subscription.js';
import { RuleEngine } from '../../../rules/engine.js';
import { copySample, type Fact, type Sample } from '../../../protocols/types.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('NodeId strings', () => {
  it.each([
    ['i=2258', { kind: 'i', id: '2258' }],
    ['ns=2;s=Tank.Level', { ns: 2, kind: 's', id: 'Tank.Level' }],
    ['nsu=urn:otsentry:sim:tank;s=level', { nsu: 'urn:otsentry:sim:tank', kind: 's', id: 'level' }],
    ['ns=3;g=72962b91-fa75-4ae6-8d28-b404dc7daf63', { ns: 3, kind: 'g', id: '72962b91-fa75-4ae6-8d28-b404dc7daf63' }],
    ['ns=1;b=AQID', { ns: 1, kind: 'b', id: 'AQID' }],
    ['ns=2;s=a;b', { ns: 2, kind: 's', id: 'a;b' }],
  ])('%s', (text, want) => {
    expect(parseNodeId(text)).toEqual(want);
  });

  it.each([
    ['level', /is not a NodeId; use i=NUMBER/],
    ['ns=x;i=1', /ns must be a namespace index/],
    ['ns=2;i=abc', /numeric id must be a whole number/],
    ['ns=2;s=', /must not be empty/],
    ['nsu=;s=a', /needs a namespace URI/],
    ['g=1234', /GUID id looks like/],
  ])('refuses %s', (text, msg) => {
    expect(() => parseNodeId(text)).toThrow(msg);
  });

  it('resolves a namespace URI to the server index, or says which URIs exist', () => {
    const ns = ['http://opcfoundation.org/UA/', 'urn:server', 'urn:otsentry:sim:tank'];
    expect(resolveNodeId(parseNodeId('nsu=urn:otsentry:sim:tank;s=level'), ns)).toEqual({ nodeId: 'ns=2;s=level' });
    expect(resolveNodeId(parseNodeId('ns=4;i=7'), ns)).toEqual({ nodeId: 'ns=4;i=7' });
    expect(resolveNodeId(parseNodeId('i=85'), ns)).toEqual({ nodeId: 'i=85' });
    expect(resolveNodeId(parseNodeId('nsu=urn:nope;s=x'), ns)).toEqual({ error: expect.stringMatching(/namespace urn:nope is not on the server \(it has: http.*urn:otsentry:sim:tank\)/) });
  });
});

const base = { id: 'ua1', protocol: 'opcua', endpoint_url: 'opc.tcp://10.0.0.5:4840', tags: [{ name: 'level', node_id: 'ns=2;s=level' }] };
const problems = (over: Record<string, unknown>) => {
  const r = opcuaDeviceSchema.safeParse({ ...base, ...over });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('OPC UA device schema', () => {
  it('defaults to a secure channel, read mode and no automatic trust', () => {
    const d = opcuaDeviceSchema.parse(base);
    expect(d).toMatchObject({ security_policy: 'Basic256Sha256', security_mode: 'SignAndEncrypt', auth: { type: 'anonymous' }, trust_on_first_use: false, mode: 'read', posture_interval_ms: 60000 });
  });

  it.each([
    [{ security_policy: 'Basic128Rsa15' }, /Basic128Rsa15 is deprecated.*Node 20/],
    [{ security_policy: 'Basic256' }, /Basic256 is deprecated/],
    [{ security_policy: 'None' }, /security_mode: security_policy None goes only with security_mode None/],
    [{ security_mode: 'None' }, /security_policy: security_mode None needs security_policy None/],
    [{ security_policy: 'None', security_mode: 'None', auth: { type: 'username', username: 'u', password: { env: 'X' } } }, /password unprotected/],
    [{ endpoint_url: 'http://10.0.0.5:4840' }, /use opc.tcp:\/\/HOST:PORT/],
    [{ tags: [{ name: 'a', node_id: 'Tank.Level' }] }, /tags.0.node_id: 'Tank.Level' is not a NodeId/],
    [{ tags: [{ name: 'a', node_id: 'i=1' }, { name: 'a', node_id: 'i=2' }] }, /duplicate tag name "a"/],
    [{ tags: [{ name: 'a', node_id: 'i=1' }, { name: 'b', node_id: 'i=1' }] }, /node i=1 is already read as tags\[0\]/],
    [{ interval_ms: 500, timeout_ms: 2000 }, /interval_ms: 500 ms cannot fit the worst case of 1 Read request at timeout_ms 2000/],
    [{ auth: { type: 'username', username: 'u', password: 'secret' } }, /auth.password/],
    [{ reconnect_min_ms: 5000, reconnect_max_ms: 1000 }, /must not exceed reconnect_max_ms/],
  ])('reports %j', (over, msg) => {
    expect(problems(over).join('\n')).toMatch(msg);
  });

  it('the sample config validates with its rules', () => {
    const file = path.join(ROOT, 'protocols/opcua/sample.yaml');
    const r = parseConfigText(fs.readFileSync(file, 'utf8'), file);
    expect(r.problems).toEqual([]);
    expect(r.config!.devices[0].protocol).toBe('opcua');
    expect(r.config!.rules.some((x) => (x as { type: string }).type === 'posture')).toBe(true);
  });
});

describe('values and qualities', () => {
  it.each([
    [{ dataType: 1, value: true }, { value: true }],
    [{ dataType: 10, value: 3.5 }, { value: 3.5 }],
    [{ dataType: 8, value: [1, 5] }, { value: 4294967301 }],
    [{ dataType: 8, value: [-1, 4294967295] }, { value: -1 }],
    [{ dataType: 12, value: 'run' }, { value: 'run' }],
    [{ dataType: 13, value: new Date(1000) }, { value: 1000 }],
    [{ dataType: 21, value: { text: 'Auto' } }, { value: 'Auto' }],
    [{ dataType: 11, value: Number.NaN }, { value: null, reason: 'value is NaN' }],
    [{ dataType: 11, arrayType: 1, value: [1, 2] }, { value: null, reason: expect.stringMatching(/arrays are not supported/) }],
    [{ dataType: 22, value: {} }, { value: null, reason: expect.stringMatching(/data type 22 is not supported/) }],
  ])('%j', (variant, want) => {
    expect(decodeVariant(variant)).toEqual(want);
  });

  it('maps the StatusCode severity bits', () => {
    expect(qualityOf({ value: 0, name: 'Good' })).toBe('good');
    expect(qualityOf({ value: 0x40000000, name: 'Uncertain' })).toBe('uncertain');
    expect(qualityOf({ value: 0x80340000, name: 'BadNodeIdUnknown' })).toBe('bad');
  });
});

describe('error messages name the place and the fix', () => {
  const url = 'opc.tcp://10.0.0.5:4840';
  it.each([
    [new Error('connect ECONNREFUSED 10.0.0.5:4840'), 'discovery', 'connect_refused', /nothing listens at opc.tcp:\/\/10.0.0.5:4840/],
    [new Error('The connection has been rejected by server: BadSecurityChecksFailed (0x80130000)'), 'channel', 'security', /rejected the agent's application certificate.*agent.pem/],
    [new Error('server Certificate verification failed with err BadCertificateUntrusted (0x801a0000)'), 'channel', 'security', /not trusted.*otsentry trust/],
    [new Error('BadUserAccessDenied (0x801f0000)'), 'session', 'security', /refused the login as operator.*check auth/],
    [new Error('Transaction has timed out ( timeout = 500 ms)'), 'read', 'timeout', /did not answer in time during read/],
    [new Error('socket has been disconnected by third party'), 'read', 'connection_lost', /was lost during read/],
    [new Error('error:1C800066:Provider routines::unsupported RSA_PKCS1_PADDING'), 'channel', 'security', /Basic128Rsa15.*Node 20/],
    [new Error('The connection may have been rejected by server,\n Err = (ACK: failed to decode ERR response (malformed or truncated))'), 'discovery', 'bad_response', /did not answer as an OPC UA server/],
    [new Error('The connection may have been rejected by server,\n Err = (ERROR in waiting for data on socket(timeout was = 600 ms) hadErrortrue )'), 'discovery', 'bad_response', /did not answer as an OPC UA server/],
  ] as const)('%s', (err, stage, code, msg) => {
    const e = asOpcuaError(err, stage, url, { agentCert: 'agent.pem', user: 'operator' });
    expect(e.code).toBe(code);
    expect(e.message).toMatch(msg);
  });
});

describe('certificate parsing', () => {
  it('takes the first certificate of a chain; garbage is no certificate', () => {
    expect(certificateInfo(Buffer.from('not a certificate'))).toBeNull();
    const fake = Buffer.from([0x30, 0x03, 1, 2, 3, 0x30, 0x01, 9]);
    expect([...firstCertificate(fake)]).toEqual([0x30, 0x03, 1, 2, 3]);
  });
});

describe('posture detector', () => {
  const T0 = Date.parse('2026-01-10T00:00:00Z');
  const secure = [{ security_policy: 'Basic256Sha256', security_mode: 'SignAndEncrypt', user_tokens: ['username'] }];
  const good = { endpoints: secure, cert_thumbprint: 'aa'.repeat(20), cert_subject: 'CN=plc', cert_not_before: '2025-01-01T00:00:00Z', cert_not_after: '2027-01-01T00:00:00Z', clock_offset_ms: 20 };
  const posture = (data: Record<string, unknown>, ts: number): Fact => ({ device: 'ua1', kind: 'posture', ts, data: { ...good, ...data } });
  const run = (rule: Record<string, unknown>, facts: Fact[]) => {
    const e = new RuleEngine([{ id: 'p', type: 'posture', device: 'ua1', ...rule }], [{ id: 'ua1', tags: [{ name: 'level' }] }]);
    return facts.flatMap((f) => e.onFact(f)).map((f) => `${f.active ? 'R' : 'C'}:${f.condition}:${f.category}/${f.severity}`);
  };

  it('raises nothing for a secure server', () => {
    expect(run({}, [posture({}, T0), posture({}, T0 + 1000)])).toEqual([]);
  });

  it('raises and clears each condition on its own', () => {
    const facts = [
      posture({}, T0),
      posture({ endpoints: [...secure, { security_policy: 'None', security_mode: 'None', user_tokens: ['anonymous'] }] }, T0 + 1000),
      posture({ cert_thumbprint: 'bb'.repeat(20), cert_not_after: '2026-01-20T00:00:00Z' }, T0 + 2000),
      posture({ cert_not_after: '2026-01-09T00:00:00Z' }, T0 + 3000),
      posture({ clock_offset_ms: -120_000 }, T0 + 4000),
      posture({}, T0 + 5000),
    ];
    expect(run({ severities: { certificate_expiring: 'medium' } }, facts)).toEqual([
      'R:insecure_policy:posture/high',
      'R:anonymous_login:posture/high',
      'C:insecure_policy:posture/high',
      'C:anonymous_login:posture/high',
      'R:certificate_changed:posture/high',
      'R:certificate_expiring:posture/medium',
      'C:certificate_changed:posture/high',
      'R:certificate_expired:posture/high',
      'C:certificate_expiring:posture/medium',
      'C:certificate_expired:posture/high',
      'R:clock_drift:posture/high',
      'C:clock_drift:posture/high',
    ]);
  });

  it('compares with an approved thumbprint (colons and case ignored) and watches only the chosen checks', () => {
    const approved = 'AA:'.repeat(19) + 'AA';
    expect(run({ expected_thumbprint: approved, checks: ['certificate_changed'] }, [posture({ clock_offset_ms: 1e6 }, T0)])).toEqual([]);
    expect(run({ expected_thumbprint: 'cc'.repeat(20) }, [posture({}, T0)])).toEqual(['R:certificate_changed:posture/high']);
  });

  it('leaves the clock alone when the server could not be asked (refused session)', () => {
    expect(run({}, [posture({ clock_offset_ms: null, session: 'refused' }, T0)])).toEqual([]);
  });

  it('refuses unknown fields and bad thumbprints as config errors', () => {
    expect(() => run({ max_drift: 5 }, [])).toThrow(/max_drift/);
    expect(() => run({ expected_thumbprint: 'xyz' }, [])).toThrow(/40 hex digits/);
  });
});

describe('otsentry trust arguments', () => {
  const out = () => undefined;
  const modbus = { id: 'plc1', protocol: 'modbus' };
  const ua = (id: string) => opcuaDeviceSchema.parse({ ...base, id });
  it.each([
    [{ devices: [modbus] }, {}, /the config has no OPC UA device; nothing to trust/],
    [{ devices: [ua('a')] }, { device: 'b' }, /--device b: no such device; OPC UA devices: a/],
    [{ devices: [modbus, ua('a')] }, { device: 'plc1' }, /--device plc1 is not an OPC UA device/],
    [{ devices: [ua('a'), ua('b')] }, { thumbprint: 'aa' }, /--thumbprint confirms one certificate: name its device with --device/],
  ])('%#: refuses with the fix', async (config, o, msg) => {
    await expect(trustFromConfig(config, '/nonexistent', { ...o, out })).rejects.toThrow(msg);
  });
});

describe('subscription watchdog', () => {
  it('a server silent past keepalive_count publishing intervals (twice, plus timeout_ms) ends the subscription', () => {
    const cfg = opcuaDeviceSchema.parse({ ...base, mode: 'subscription', subscription: { publishing_interval_ms: 100, keepalive_count: 5 } });
    let now = 1000;
    const sub = new TagSubscription(cfg, () => now);
    expect(sub.silenceLimitMs).toBe(2 * 100 * 5 + 1000);
    const out: unknown[] = [];
    now += 2000;
    sub.drain('ua1', ['level'], out as never);
    expect(sub.terminated).toBeNull();
    now += 1000;
    sub.drain('ua1', ['level'], out as never);
    expect(sub.terminated).toMatchObject({ code: 'timeout', message: expect.stringMatching(/sent no data change nor keep-alive for 3000 ms \(limit 2000 ms\)/) });
  });
});

describe('subscription changes between polls', () => {
  const GOOD = { value: 0, name: 'Good' };
  const dv = (dataType: number, value: unknown, statusCode = GOOD) => ({ statusCode, value: { dataType, value } });
  const change = (sub: TagSubscription, tag: number, v: ReturnType<typeof dv>) => (sub as unknown as { onChange(t: number, d: unknown): void }).onChange(tag, v);
  const view = (xs: Sample[]) => xs.map((s) => [s.tag, s.value, s.quality, s.reason, s.ts]);

  it('hands out every change in arrival order, then the current value of the unchanged tags; kept per tag up to the cap', () => {
    const cfg = opcuaDeviceSchema.parse({ ...base, mode: 'subscription', tags: [{ name: 'a', node_id: 'ns=1;s=a' }, { name: 'b', node_id: 'ns=1;s=b' }, { name: 'c', node_id: 'ns=1;s=c' }] });
    let now = 1000;
    const sub = new TagSubscription(cfg, () => now);
    const names = ['a', 'b', 'c'];
    change(sub, 0, dv(11, 1.5));
    now = 1010;
    change(sub, 1, dv(12, 'auto'));
    now = 1020;
    change(sub, 0, dv(1, true));
    change(sub, 2, dv(11, 0, { value: 0x80000000, name: 'BadSensorFailure' }));
    now = 1100;
    const first: Sample[] = [];
    sub.drain('ua1', names, first);
    expect(view(first)).toEqual([
      ['a', 1.5, 'good', undefined, 1000],
      ['b', 'auto', 'good', undefined, 1010],
      ['a', true, 'good', undefined, 1020],
      ['c', null, 'bad', 'BadSensorFailure', 1020],
    ]);
    const kept = first.map(copySample);
    // Next poll: only b changed; a and c repeat their current value at the poll's time.
    now = 1150;
    change(sub, 1, dv(11, 7));
    now = 1200;
    const second: Sample[] = [];
    sub.drain('ua1', names, second);
    expect(view(second)).toEqual([
      ['b', 7, 'good', undefined, 1150],
      ['a', true, 'good', undefined, 1200],
      ['c', null, 'bad', 'BadSensorFailure', 1200],
    ]);
    // The objects are refilled by the next drain; a copy keeps its own values.
    expect(second[0]).toBe(first[0]);
    expect(view(kept)[0]).toEqual(['a', 1.5, 'good', undefined, 1000]);
    // A flood: more changes than the cap per tag are dropped and counted; the columns grow past 1024.
    const many = Array.from({ length: 12 }, (_, i) => `t${i}`);
    const flood = new TagSubscription(opcuaDeviceSchema.parse({ ...base, mode: 'subscription', tags: many.map((name) => ({ name, node_id: `ns=1;s=${name}` })) }), () => now);
    for (let i = 0; i < 150; i++) for (let t = 0; t < many.length; t++) change(flood, t, dv(11, i * 100 + t));
    const third: Sample[] = [];
    expect(flood.drain('ua1', many, third)).toEqual({ dropped: 12 * 50 });
    expect(third).toHaveLength(12 * 100);
    expect(third.filter((s) => s.tag === 't11').map((s) => s.value)).toEqual(Array.from({ length: 100 }, (_, i) => i * 100 + 11));
  });
});
