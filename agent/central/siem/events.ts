// What a stored signal or a central finding looks like to a SIEM: the CEF event (header, standard
// keys, labelled cs/cn fields) and the syslog header values. Pure mapping; see the README's
// "SIEM" section for the field table.
import net from 'node:net';
import type { Severity } from '../../../rules/signal.js';
import type { FindingCode, StoredFinding, StoredSignal } from '../store/types.js';
import type { CefEvent } from './cef.js';

/** CEF severity 0-10; SIEMs read 0-3 Low, 4-6 Medium, 7-8 High, 9-10 Very-High. */
export const CEF_SEVERITY: Record<Severity, number> = { info: 1, low: 3, medium: 5, high: 8, critical: 10 };
/** RFC 5424 severity: 6 Informational, 5 Notice, 4 Warning, 3 Error, 2 Critical. */
export const SYSLOG_SEVERITY: Record<Severity, number> = { info: 6, low: 5, medium: 4, high: 3, critical: 2 };

/** The CEF `cat` of central's own findings (signals carry their own category). */
export const FINDING_CATEGORY: Record<FindingCode, string> = {
  malformed: 'input',
  oversized: 'input',
  unknown_agent: 'identity',
  replayed: 'integrity',
  edited: 'integrity',
  forged: 'integrity',
  bad_signature: 'integrity',
  unsigned: 'integrity',
  key_changed: 'identity',
  seq_conflict: 'integrity',
  chain_broken: 'integrity',
  gap: 'integrity',
  stalled: 'availability',
  offline: 'availability',
};

/** Fields that may be shortened to fit the message size (never ids, names or numbers). */
export const SHRINKABLE = new Set(['msg', 'cs5', 'cs6']);

export interface DeviceAddress {
  /** IPv4/IPv6 literal → dst */
  ip?: string;
  /** host name → dhost */
  host?: string;
  port?: number;
}

/** `modbus-tcp://10.0.0.5:502`, `opc.tcp://plc:4840/path`, ...; serial addresses give nothing. */
export function parseDeviceAddress(address: unknown): DeviceAddress | undefined {
  if (typeof address !== 'string') return undefined;
  const m = /^[a-z][a-z0-9.+-]*:\/\/(\[[^\]]+\]|[^/:@\s]+)(?::(\d{1,5}))?/i.exec(address);
  if (!m) return undefined;
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = m[2] === undefined ? undefined : Number(m[2]);
  const out: DeviceAddress = net.isIP(host) ? { ip: host } : { host };
  if (port !== undefined && port >= 1 && port <= 65535) out.port = port;
  return out;
}

export interface Mapped {
  cef: CefEvent;
  severity: Severity;
  time_ms: number;
  msgid: 'signal' | 'finding';
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

type Ext = Array<[string, string | number]>;

/** Adds a labelled custom field (cs1..6, cn1..3) when the value is present. */
function labelled(ext: Ext, key: string, label: string, v: string | number | undefined): void {
  if (v === undefined || v === '') return;
  ext.push([key, v], [`${key}Label`, label]);
}

export function signalEvent(s: StoredSignal, version: string, device?: DeviceAddress): Mapped {
  const x = s.signal;
  const parsed = Date.parse(x.ts);
  const time_ms = Number.isFinite(parsed) ? parsed : s.received_ms;
  const ext: Ext = [
    ['rt', time_ms],
    ['dvchost', x.agent],
  ];
  if (device?.ip !== undefined) ext.push(['dst', device.ip]);
  if (device?.host !== undefined) ext.push(['dhost', device.host]);
  if (device?.port !== undefined) ext.push(['dpt', device.port]);
  ext.push(['cat', x.category], ['act', x.state], ['externalId', x.id], ['msg', x.message]);
  labelled(ext, 'cs1', 'site', x.site);
  labelled(ext, 'cs2', 'agent', x.agent);
  labelled(ext, 'cs3', 'device', x.device);
  labelled(ext, 'cs4', 'tag', x.tag);
  labelled(ext, 'cs5', 'observed', text(x.observed));
  labelled(ext, 'cs6', 'expected', text(x.expected));
  labelled(ext, 'cn1', 'score', Number.isFinite(x.score) ? Math.round(x.score) : undefined);
  labelled(ext, 'cn2', 'seq', x.seq);
  ext.push(['flexString1', s.verdict], ['flexString1Label', 'verdict']);
  return {
    cef: { vendor: 'otsentry', product: 'otsentry', version, signatureId: x.rule, name: x.message, severity: CEF_SEVERITY[x.severity] ?? 5, extension: ext },
    severity: x.severity,
    time_ms,
    msgid: 'signal',
  };
}

/** `central` is the central process id (dvchost: the finding is central's own). */
export function findingEvent(f: StoredFinding, version: string, central: string): Mapped {
  const ext: Ext = [
    ['rt', f.ts_ms],
    ['dvchost', central],
    ['cat', FINDING_CATEGORY[f.code] ?? 'integrity'],
    ['act', 'raised'],
    ['externalId', `finding-${f.id}`],
    ['msg', f.message],
  ];
  labelled(ext, 'cs1', 'site', f.site);
  labelled(ext, 'cs2', 'agent', f.agent);
  labelled(ext, 'cs5', 'evidence', text(f.evidence));
  labelled(ext, 'cn2', 'seq', f.seq);
  return {
    cef: { vendor: 'otsentry', product: 'otsentry', version, signatureId: `central.${f.code}`, name: f.message, severity: CEF_SEVERITY[f.severity] ?? 5, extension: ext },
    severity: f.severity,
    time_ms: f.ts_ms,
    msgid: 'finding',
  };
}
