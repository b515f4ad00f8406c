// The `siem:` section of central.yaml: a list of outputs, each RFC 5424 syslog over TCP (optionally
// TLS) carrying CEF, each with its own cursor in the store. Owned here; composed in config/schema.ts.
import { z } from 'zod';
import { tlsSchema } from '../../config/schema.js';

/** RFC 5424 facility names and codes (section 6.2.1). */
export const FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  ntp: 12, audit: 13, alert: 14, clock: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;

export type FacilityName = keyof typeof FACILITIES;

const facilityNames = Object.keys(FACILITIES) as [FacilityName, ...FacilityName[]];
const severities = ['info', 'low', 'medium', 'high', 'critical'] as const;

// Printable US-ASCII without space (RFC 5424 PRINTUSASCII): HOSTNAME and APP-NAME must be this.
const printUsAscii = (max: number) => z.string().min(1).max(max).regex(/^[\x21-\x7e]+$/, 'use printable ASCII without spaces (RFC 5424)');

export const syslogOutputSchema = z
  .object({
    type: z.literal('syslog').default('syslog').describe('RFC 5424 syslog over TCP with octet-counting framing (RFC 6587), CEF payload'),
    name: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, _ and -').describe('Output name: its cursor in the store and its log lines'),
    host: z.string().min(1).describe('SIEM collector host name or address'),
    port: z.number().int().min(1).max(65535).describe('Collector TCP port (often 514, or 6514 for TLS)'),
    tls: tlsSchema.optional().describe('TLS to the collector (RFC 5425): ca_file, cert_file/key_file for mutual TLS, servername'),
    facility: z.enum(facilityNames).default('local4').describe('Syslog facility of every message'),
    hostname: printUsAscii(255).optional().describe('HOSTNAME in the syslog header (default: this machine\'s host name)'),
    app_name: printUsAscii(48).default('otsentry').describe('APP-NAME in the syslog header'),
    structured_data: z.boolean().default(false).describe('Add [origin software swVersion] structured data instead of - (NILVALUE)'),
    signals: z.boolean().default(true).describe('Send the stored risk signals'),
    findings: z.boolean().default(true).describe("Send central's own findings (forged signal, gap, offline, ...)"),
    min_severity: z.enum(severities).default('info').describe('Skip signals and findings below this severity (their cursor still advances)'),
    start_at: z.enum(['oldest', 'newest']).default('oldest').describe('Where a new output (no cursor yet) starts: oldest sends everything stored, newest only what arrives from now on'),
    batch_size: z.number().int().min(1).max(10_000).default(500).describe('Events read from the store and written per batch'),
    max_message_bytes: z.number().int().min(1024).max(65_535).default(8192).describe('Longest syslog message; long fields are shortened to fit (rsyslog and many collectors default to 8 KiB)'),
    confirm_ms: z.number().int().min(0).max(600_000).default(2000).describe('An event counts as delivered when the connection stayed up this long after its bytes were flushed; a drop sooner resends it'),
    connect_timeout_ms: z.number().int().min(100).default(10_000),
    reconnect_min_ms: z.number().int().min(10).default(500),
    reconnect_max_ms: z.number().int().min(10).default(30_000),
    poll_ms: z.number().int().min(50).default(5000).describe('Read the store this often even without a wake-up (signals stored by another central process)'),
  })
  .strict()
  .refine((o) => o.reconnect_max_ms >= o.reconnect_min_ms, { message: 'must be at least reconnect_min_ms', path: ['reconnect_max_ms'] });

export const siemSchema = z
  .array(syslogOutputSchema)
  .default([])
  .refine((outs) => new Set(outs.map((o) => o.name)).size === outs.length, 'two outputs share a name; give each a unique name (it keys its cursor)')
  .describe('SIEM outputs (RFC 5424 syslog + CEF over TCP/TLS), each with a cursor in the store');

export type SyslogOutputConfig = z.infer<typeof syslogOutputSchema>;
export type SiemConfig = z.infer<typeof siemSchema>;
