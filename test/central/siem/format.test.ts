// Unit tests of the SIEM formatter: CEF header and extension escaping, severity mapping, field
// truncation and the size budget, the RFC 5424 header and octet-counting frame, the mapping of a
// signal and a finding, and the `siem:` config schema's problems.
import { describe, expect, it } from 'vitest';
import { centralConfigSchema } from '../../../agent/central/config/schema.js';
import { escapeExtension, escapeHeader, formatCef, formatCefWithin, truncate, type CefEvent } from '../../../agent/central/siem/cef.js';
import { CEF_SEVERITY, findingEvent, parseDeviceAddress, SHRINKABLE, signalEvent, SYSLOG_SEVERITY } from '../../../agent/central/siem/events.js';
import { render } from '../../../agent/central/siem/render.js';
import { escapeParamValue, formatSyslog, headerField, octetFrame, structuredData } from '../../../agent/central/siem/syslog.js';
import type { StoredSignal } from '../../../agent/central/store/types.js';
import { zodProblems } from '../../../protocols/problems.js';
import { SimAgent } from '../../../bench/central/simagent.js';
import { parse5424, parseCef } from './cefparse.js';

const base: CefEvent = { vendor: 'otsentry', product: 'otsentry', version: '0.1.0', signatureId: 'r', name: 'n', severity: 5, extension: [] };

function stored(over: Partial<StoredSignal['signal']> = {}): StoredSignal {
  const s = new SimAgent('plant-a', 'gw-1').next();
  return { signal: { ...s.signal, ...over }, payload: s.payload, verdict: 'verified', received_ms: 1_767_225_600_000, arrival: 7 };
}

describe('CEF escaping', () => {
  it('escapes backslash and pipe in the header, and turns newlines into spaces', () => {
    expect(escapeHeader('a|b\\c')).toBe('a\\|b\\\\c');
    expect(escapeHeader('one\r\ntwo\nthree')).toBe('one two three');
    expect(escapeHeader('x=y')).toBe('x=y');
  });

  it('escapes backslash, equals, CR and LF in extension values, and leaves the pipe alone', () => {
    expect(escapeExtension('a=b\\c|d')).toBe('a\\=b\\\\c|d');
    expect(escapeExtension('l1\nl2\rl3')).toBe('l1\\nl2\\rl3');
  });

  it('round-trips hostile text through an independent parser', () => {
    const nasty = 'tank|1 = 5\\ kPa\nnext=line cs1=fake';
    const line = formatCef({ ...base, signatureId: 'rule|x', name: nasty, extension: [['msg', nasty], ['cs1', 'v=1'], ['cs1Label', 'site']] });
    const c = parseCef(line);
    expect(c.signatureId).toBe('rule|x');
    expect(c.name).toBe(nasty.replace('\n', ' '));
    expect(c.ext).toEqual({ msg: nasty, cs1: 'v=1', cs1Label: 'site' });
  });

  it('refuses an extension key that is not a plain dictionary key', () => {
    expect(() => formatCef({ ...base, extension: [['bad key', 'x']] })).toThrow(/not a dictionary key/);
  });
});

describe('severity', () => {
  it('maps info..critical to CEF 0-10 in the bands SIEMs read (0-3 low, 4-6 medium, 7-8 high, 9-10 very high)', () => {
    expect(CEF_SEVERITY).toEqual({ info: 1, low: 3, medium: 5, high: 8, critical: 10 });
    expect(SYSLOG_SEVERITY).toEqual({ info: 6, low: 5, medium: 4, high: 3, critical: 2 });
  });

  it('clamps a header severity into 0-10', () => {
    expect(formatCef({ ...base, severity: 42 })).toContain('|10|');
    expect(formatCef({ ...base, severity: -3 })).toContain('|0|');
  });
});

describe('truncation', () => {
  it('cuts to the limit with an ellipsis and never splits a surrogate pair', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    const t = truncate('ab😀cd', 4);
    expect(t).toBe('ab…');
    expect(t.length).toBeLessThanOrEqual(4);
  });

  it('applies the dictionary limits per key (act 63, externalId 40, msg 1023, header name 512)', () => {
    const long = 'x'.repeat(5000);
    const c = parseCef(formatCef({ ...base, name: long, extension: [['act', long], ['externalId', long], ['msg', long], ['cs5', long]] }));
    expect(c.name.length).toBe(512);
    expect(c.ext.act!.length).toBe(63);
    expect(c.ext.externalId!.length).toBe(40);
    expect(c.ext.msg!.length).toBe(1023);
    expect(c.ext.cs5!.length).toBe(1023);
  });

  it('shortens the longest shrinkable fields until the line fits the byte budget, ids untouched', () => {
    const long = 'é'.repeat(1000);
    const e: CefEvent = { ...base, extension: [['externalId', 'id-1'], ['msg', long], ['cs5', long], ['cs6', long], ['cs6Label', 'expected']] };
    expect(Buffer.byteLength(formatCef(e))).toBeGreaterThan(2048);
    const line = formatCefWithin(e, 2048, SHRINKABLE);
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(2048);
    const c = parseCef(line);
    expect(c.ext.externalId).toBe('id-1');
    expect(c.ext.cs6Label).toBe('expected');
    expect(c.ext.msg!.endsWith('…')).toBe(true);
  });
});

describe('RFC 5424 and RFC 6587', () => {
  it('writes PRI, version, UTC timestamp, host, app, procid, msgid and - for no structured data', () => {
    const line = formatSyslog({ facility: 20, severity: 3, time_ms: Date.UTC(2026, 0, 2, 3, 4, 5, 678), hostname: 'central-1', app_name: 'otsentry', procid: '42', msgid: 'signal' }, 'CEF:0|x');
    expect(line).toBe('<163>1 2026-01-02T03:04:05.678Z central-1 otsentry 42 signal - CEF:0|x');
  });

  it('keeps header fields printable ASCII within their lengths', () => {
    expect(headerField('my host', 255)).toBe('my_host');
    expect(headerField('', 32)).toBe('-');
    expect(headerField('m'.repeat(40), 32).length).toBe(32);
  });

  it('escapes structured data parameter values', () => {
    expect(escapeParamValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    expect(structuredData([['origin', [['software', 'otsentry'], ['swVersion', '1"2']]]])).toBe('[origin software="otsentry" swVersion="1\\"2"]');
    expect(structuredData([])).toBe('-');
  });

  it('frames with the length in octets, not characters', () => {
    const f = octetFrame('é€');
    expect(f.toString('utf8')).toBe('5 é€');
  });
});

describe('mapping', () => {
  it('maps a signal to the CEF header, standard keys and labelled fields', () => {
    const s = stored({ tag: 'level', observed: { v: 150 }, expected: { min: 0, max: 100 }, severity: 'high', state: 'raised', score: 71.6 });
    const m = signalEvent(s, '1.2.3', parseDeviceAddress('modbus-tcp://10.1.2.3:502'));
    const frame = render(m, { cfg: centralConfigSchema.parse({ broker: { url: 'mqtt://b:1883' }, siem: [{ name: 's', host: 'h', port: 1 }] }).siem[0]!, hostname: 'c1', version: '1.2.3', procid: '9' });
    const text = frame.toString('utf8');
    const len = Number(text.slice(0, text.indexOf(' ')));
    expect(len).toBe(frame.length - text.indexOf(' ') - 1);
    const sys = parse5424(text.slice(text.indexOf(' ') + 1));
    expect(sys).toMatchObject({ pri: 20 * 8 + 3, version: 1, hostname: 'c1', app: 'otsentry', procid: '9', msgid: 'signal', sd: '-' });
    expect(sys.timestamp).toBe(s.signal.ts);
    const c = parseCef(sys.msg);
    expect([c.version, c.vendor, c.product, c.deviceVersion, c.signatureId, c.name, c.severity]).toEqual(['0', 'otsentry', 'otsentry', '1.2.3', s.signal.rule, s.signal.message, '8']);
    expect(c.ext).toEqual({
      rt: String(Date.parse(s.signal.ts)),
      dvchost: 'gw-1',
      dst: '10.1.2.3',
      dpt: '502',
      cat: 'anomaly',
      act: 'raised',
      externalId: s.signal.id,
      msg: s.signal.message,
      cs1: 'plant-a', cs1Label: 'site',
      cs2: 'gw-1', cs2Label: 'agent',
      cs3: 'plc-1', cs3Label: 'device',
      cs4: 'level', cs4Label: 'tag',
      cs5: '{"v":150}', cs5Label: 'observed',
      cs6: '{"min":0,"max":100}', cs6Label: 'expected',
      cn1: '72', cn1Label: 'score',
      cn2: String(s.signal.seq), cn2Label: 'seq',
      flexString1: 'verified', flexString1Label: 'verdict',
    });
  });

  it('puts a host name in dhost, never in dst, and leaves out absent fields', () => {
    const s = stored({ tag: undefined, observed: undefined, expected: undefined });
    const c = parseCef(formatCef(signalEvent(s, 'v', parseDeviceAddress('opc.tcp://plc-7.plant:4840/UA')).cef));
    expect(c.ext.dhost).toBe('plc-7.plant');
    expect(c.ext.dpt).toBe('4840');
    expect(c.ext.dst).toBeUndefined();
    expect(c.ext.cs4).toBeUndefined();
    expect(c.ext.cs5Label).toBeUndefined();
    expect(parseDeviceAddress('rtu:/dev/ttyS0@9600')).toBeUndefined();
    expect(parseDeviceAddress('modbus-tcp://[fe80::1]:502')).toEqual({ ip: 'fe80::1', port: 502 });
  });

  it("maps central's own finding with its code as the signature and its evidence", () => {
    const m = findingEvent({ id: 12, code: 'forged', severity: 'critical', site: 'plant-a', agent: 'gw-1', seq: 5, message: 'signal seq 5 has a bad signature.', evidence: { key_id: 'k1' }, ts_ms: 1000 }, '1.0.0', 'central-a');
    const c = parseCef(formatCef(m.cef));
    expect(c.signatureId).toBe('central.forged');
    expect(c.severity).toBe('10');
    expect(m.msgid).toBe('finding');
    expect(c.ext).toMatchObject({ rt: '1000', dvchost: 'central-a', cat: 'integrity', act: 'raised', externalId: 'finding-12', cs1: 'plant-a', cs2: 'gw-1', cs5: '{"key_id":"k1"}', cs5Label: 'evidence', cn2: '5' });
  });
});

describe('siem config', () => {
  const parse = (siem: unknown) => centralConfigSchema.safeParse({ broker: { url: 'mqtt://b:1883' }, siem });

  it('fills defaults for a minimal output', () => {
    const r = parse([{ name: 'splunk', host: 'siem.example', port: 514 }]);
    expect(r.success).toBe(true);
    expect(r.data!.siem[0]).toMatchObject({ type: 'syslog', facility: 'local4', app_name: 'otsentry', batch_size: 500, confirm_ms: 2000, start_at: 'oldest', min_severity: 'info' });
  });

  it('names the place and the fix of each problem', () => {
    const r = parse([
      { name: 'a', host: 'h', port: 70000, facility: 'local9' },
      { name: 'a', host: 'h', port: 514, app_name: 'has space', tls: { cert_file: 'c.pem' }, reconnect_min_ms: 500, reconnect_max_ms: 100, colour: 'red' },
    ]);
    expect(r.success).toBe(false);
    const lines = zodProblems(r.error!).map((p) => `${p.path}: ${p.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^siem\[0\]\.port: /),
        expect.stringMatching(/^siem\[0\]\.facility: /),
        expect.stringMatching(/^siem\[1\]\.app_name: use printable ASCII/),
        expect.stringMatching(/^siem\[1\]\.tls: mutual TLS needs both cert_file and key_file/),
        "siem[1].colour: unknown key 'colour' (check the spelling; the README lists the allowed keys)",
      ]),
    );
    const fixed = parse([{ name: 'a', host: 'h', port: 514, reconnect_min_ms: 500, reconnect_max_ms: 100 }, { name: 'a', host: 'h', port: 515 }]);
    expect(zodProblems(fixed.error!).map((p) => `${p.path}: ${p.message}`)).toEqual(['siem[0].reconnect_max_ms: must be at least reconnect_min_ms', 'siem: two outputs share a name; give each a unique name (it keys its cursor)']);
  });
});
