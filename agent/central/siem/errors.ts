// Connection failures to a SIEM collector explained: a stable code and one sentence naming the
// output, its address and the fix. For the log lines when an output goes down.
import { OperationalError } from '../../../protocols/errors.js';

export interface SiemProblem {
  code: string;
  message: string;
}

export class SiemError extends OperationalError {
  constructor(message: string, code: string) {
    super(code, message, 'siem');
  }
}

const NET: Record<string, [string, string]> = {
  ECONNREFUSED: ['connection_refused', 'nothing listens there; check that the collector runs and its port'],
  ENOTFOUND: ['host_not_found', 'the host name does not resolve; check host and DNS'],
  EAI_AGAIN: ['host_not_found', 'the host name does not resolve (DNS unavailable); check host and DNS'],
  ETIMEDOUT: ['timeout', 'no answer; check the network path and firewall to the collector'],
  EHOSTUNREACH: ['unreachable', 'the host is unreachable; check the network path'],
  ENETUNREACH: ['unreachable', 'the network is unreachable; check the network settings'],
  ECONNRESET: ['connection_reset', 'the collector closed the connection; if it wants TLS, set tls'],
  EPIPE: ['connection_reset', 'the collector closed the connection; check its log'],
};

const TLS: Array<[RegExp, string, string]> = [
  [/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/, 'tls_untrusted', "the collector's certificate is not signed by a trusted CA; set tls.ca_file to the CA that signed it"],
  [/ALTNAME|HOSTNAME/, 'tls_name_mismatch', 'the collector certificate does not name this host; use a name in the certificate as host or set tls.servername'],
  [/EXPIRED|NOT_YET_VALID/, 'tls_expired', 'the collector certificate is expired or not yet valid; check it and the clock'],
  [/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|ALERT/, 'tls_client_cert', 'the collector refused the TLS handshake; it may want a client certificate signed by its CA (tls.cert_file, tls.key_file)'],
  [/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG/, 'tls_not_tls', 'the port does not speak TLS; remove tls or use the TLS port'],
];

/** `where`: `siem[0] (splunk) at host:port`. */
export function explainSiemError(err: unknown, where: string): SiemProblem {
  const e = err as { code?: unknown; message?: string };
  const msg = (e.message ?? String(err)).split('\n')[0]!.trim();
  if (err instanceof SiemError) return { code: err.code, message: `${where}: ${msg}` };
  if (typeof e.code === 'string') {
    const n = NET[e.code];
    if (n) return { code: n[0], message: `${where}: ${e.code}; ${n[1]}.` };
    for (const [re, code, fix] of TLS) {
      if (re.test(e.code) || re.test(msg)) return { code, message: `${where}: TLS failed (${e.code}); ${fix}.` };
    }
    return { code: 'network_error', message: `${where}: ${e.code}: ${msg}; check host, port and the network.` };
  }
  for (const [re, code, fix] of TLS) {
    if (re.test(msg)) return { code, message: `${where}: TLS failed (${msg}); ${fix}.` };
  }
  return { code: 'siem_error', message: `${where}: ${msg}.` };
}
