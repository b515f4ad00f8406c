// A mapped event as the bytes on the wire: the CEF line within the size budget, wrapped in the
// RFC 5424 header of the output's config, framed by octet counting.
import { FACILITIES, type SyslogOutputConfig } from './config.js';
import { formatCefWithin } from './cef.js';
import { SHRINKABLE, SYSLOG_SEVERITY, type Mapped } from './events.js';
import { formatSyslog, octetFrame, type SyslogHeader } from './syslog.js';

export interface RenderContext {
  cfg: SyslogOutputConfig;
  hostname: string;
  version: string;
  procid: string;
}

/** Room the syslog header takes at most: PRI, version, timestamp, host, app, procid, msgid, SD. */
function headerRoom(h: SyslogHeader): number {
  return Buffer.byteLength(formatSyslog(h, ''));
}

export function render(m: Mapped, r: RenderContext): Buffer {
  const header: SyslogHeader = {
    facility: FACILITIES[r.cfg.facility],
    severity: SYSLOG_SEVERITY[m.severity] ?? 4,
    time_ms: m.time_ms,
    hostname: r.hostname,
    app_name: r.cfg.app_name,
    procid: r.procid,
    msgid: m.msgid,
    structured: r.cfg.structured_data ? [['origin', [['software', 'otsentry'], ['swVersion', r.version]]]] : undefined,
  };
  const cef = formatCefWithin(m.cef, r.cfg.max_message_bytes - headerRoom(header), SHRINKABLE);
  return octetFrame(formatSyslog(header, cef));
}
