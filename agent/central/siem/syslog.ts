// RFC 5424 syslog messages and their RFC 6587 octet-counting frames (`MSG-LEN SP SYSLOG-MSG`):
// PRI from facility and severity, VERSION 1, an RFC 3339 UTC timestamp, HOSTNAME, APP-NAME,
// PROCID, MSGID, STRUCTURED-DATA or `-`, then the message (UTF-8, no BOM: CEF parsers expect
// the line to start with `CEF:`).

export interface SyslogHeader {
  facility: number;
  /** RFC 5424 severity 0 (emergency) .. 7 (debug) */
  severity: number;
  time_ms: number;
  hostname: string;
  app_name: string;
  procid: string;
  msgid: string;
  /** SD-ELEMENTs as [id, params]; empty: `-` */
  structured?: Array<[string, Array<[string, string]>]>;
}

const NIL = '-';

/** Printable US-ASCII (33..126) only, at most `max` characters; empty becomes `-`. */
export function headerField(v: string, max: number): string {
  const clean = v.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? NIL : clean;
}

/** SD-NAME: printable US-ASCII except `=`, SP, `]` and `"`, at most 32 characters. */
function sdName(v: string): string {
  return v.replace(/[^\x21-\x7e]|[= \]"]/g, '_').slice(0, 32);
}

/** PARAM-VALUE escapes `"`, `\` and `]` (RFC 5424 section 6.3.3). */
export function escapeParamValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => '\\' + c);
}

export function structuredData(sd: SyslogHeader['structured']): string {
  if (sd === undefined || sd.length === 0) return NIL;
  return sd.map(([id, params]) => `[${sdName(id)}${params.map(([k, v]) => ` ${sdName(k)}="${escapeParamValue(v)}"`).join('')}]`).join('');
}

/** RFC 3339 in UTC with milliseconds (TIME-SECFRAC allows up to 6 digits). */
export function timestamp(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : NIL;
}

export function pri(facility: number, severity: number): number {
  return facility * 8 + severity;
}

export function formatSyslog(h: SyslogHeader, msg: string): string {
  return (
    `<${pri(h.facility, h.severity)}>1 ${timestamp(h.time_ms)} ${headerField(h.hostname, 255)} ${headerField(h.app_name, 48)} ` +
    `${headerField(h.procid, 128)} ${headerField(h.msgid, 32)} ${structuredData(h.structured)} ${msg}`
  );
}

/** RFC 6587 section 3.4.1: the message length in octets, a space, the message. */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'latin1'), body]);
}
