// Broker and network failures explained: a stable code and one sentence naming the broker URL
// and the fix. Used for logs and stats().last_error.

export interface Explained {
  code: string;
  message: string;
  /** the broker answered but refused us; retrying will not help until the config changes */
  refused: boolean;
}

const CONNACK: Record<number, { code: string; fix: string }> = {
  1: { code: 'unsupported_protocol', fix: 'the broker does not accept this MQTT version' },
  2: { code: 'client_id_rejected', fix: 'the broker rejected the client id; set broker.client_id to an id it accepts' },
  3: { code: 'server_unavailable', fix: 'the broker is unavailable; check its health' },
  4: { code: 'bad_credentials', fix: 'the username or password is wrong; check broker.username and the broker.password secret' },
  5: { code: 'not_authorized', fix: 'the broker does not authorise this client; check broker.username, the broker.password secret and the broker ACL for this client id' },
  128: { code: 'broker_error', fix: 'the broker reported an unspecified error; check its log' },
  132: { code: 'unsupported_protocol', fix: 'the broker does not accept this MQTT version' },
  133: { code: 'client_id_rejected', fix: 'the broker rejected the client id; set broker.client_id to an id it accepts' },
  134: { code: 'bad_credentials', fix: 'the username or password is wrong; check broker.username and the broker.password secret' },
  135: { code: 'not_authorized', fix: 'the broker does not authorise this client; check broker.username, the broker.password secret and the broker ACL for this client id' },
  136: { code: 'server_unavailable', fix: 'the broker is unavailable; check its health' },
  137: { code: 'server_busy', fix: 'the broker is busy; it will be retried' },
  138: { code: 'banned', fix: 'the broker has banned this client; ask its operator' },
  140: { code: 'bad_auth_method', fix: 'the broker wants another authentication method' },
  159: { code: 'connection_rate', fix: 'the broker limits the connection rate; raise broker.reconnect_min_ms' },
};

const NET: Record<string, { code: string; fix: string }> = {
  ECONNREFUSED: { code: 'connection_refused', fix: 'nothing listens there; check that the broker runs and the port in broker.url' },
  ENOTFOUND: { code: 'host_not_found', fix: 'the host name does not resolve; check broker.url and DNS' },
  EAI_AGAIN: { code: 'host_not_found', fix: 'the host name does not resolve (DNS unavailable); check broker.url and DNS' },
  ETIMEDOUT: { code: 'timeout', fix: 'no answer; check the network path and firewall to the broker' },
  EHOSTUNREACH: { code: 'unreachable', fix: 'the host is unreachable; check the network path to the broker' },
  ENETUNREACH: { code: 'unreachable', fix: 'the network is unreachable; check the gateway network settings' },
  ECONNRESET: { code: 'connection_reset', fix: 'the broker closed the connection; if it requires TLS or a client certificate, check broker.url and broker.tls' },
  EPIPE: { code: 'connection_reset', fix: 'the broker closed the connection; check the broker log' },
};

const TLS: Array<[RegExp, string, string]> = [
  [/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/, 'tls_untrusted', "the broker's certificate is not signed by a trusted CA; set broker.tls.ca_file to the CA that signed it"],
  [/ALTNAME|HOSTNAME/, 'tls_name_mismatch', 'the broker certificate does not name this host; connect by a name in the certificate or set broker.tls.servername'],
  [/EXPIRED|NOT_YET_VALID/, 'tls_expired', 'the broker certificate is expired or not yet valid; check the certificate and the gateway clock'],
  [/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|ALERT/, 'tls_client_cert', 'the broker refused the TLS handshake; it may require a client certificate signed by its CA (broker.tls.cert_file, key_file)'],
  [/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG/, 'tls_not_tls', 'the port does not speak TLS; use mqtt:// or the TLS port'],
];

/** `connected`: the error came after CONNACK (a reset then means the broker dropped us). */
export function explainError(err: unknown, url: string, protocolVersion: number, connected = false): Explained {
  const e = err as { code?: unknown; message?: string; name?: string };
  const msg = (e.message ?? String(err)).split('\n')[0].trim();
  if (connected && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
    return { code: 'connection_reset', refused: false, message: `Broker ${url} closed the connection (${e.code}); check the broker log.` };
  }
  if (typeof e.code === 'number' && /^Connection refused/.test(msg)) {
    const c = CONNACK[e.code] ?? { code: 'connack_refused', fix: 'check the broker log' };
    if (c.code === 'unsupported_protocol' && protocolVersion === 5) {
      return {
        code: 'mqtt5_unsupported',
        refused: true,
        message:
          `Broker ${url} does not accept MQTT 5 (CONNACK ${e.code}: ${msg.replace(/^Connection refused: /, '')}); upgrade the broker, or set broker.protocol_version: 4 ` +
          'to use MQTT 3.1.1, which cannot report a refused publish: an event the broker refuses is acked as delivered and lost.',
      };
    }
    return { code: c.code, refused: true, message: `Broker ${url} refused the connection (CONNACK ${e.code}: ${msg.replace(/^Connection refused: /, '')}); ${c.fix}.` };
  }
  if (typeof e.code === 'string') {
    const n = NET[e.code];
    if (n) return { code: n.code, refused: false, message: `Cannot reach broker ${url} (${e.code}); ${n.fix}.` };
    for (const [re, code, fix] of TLS) {
      if (re.test(e.code) || re.test(msg)) return { code, refused: true, message: `TLS with broker ${url} failed (${e.code}); ${fix}.` };
    }
    return { code: 'network_error', refused: false, message: `Connection to broker ${url} failed (${e.code}: ${msg}); check broker.url and the network.` };
  }
  if (/connack timeout/i.test(msg)) {
    return {
      code: 'connect_timeout',
      refused: false,
      message: `Broker ${url} did not answer CONNECT in time (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}); check that this port is an MQTT listener and raise broker.connect_timeout_ms if the link is slow.`,
    };
  }
  return { code: 'broker_error', refused: false, message: `Broker ${url}: ${msg}; check the broker log.` };
}

/** A PUBACK carrying a failure reason code (MQTT 5); transient ones are retried after a backoff. */
export function explainPubackFailure(err: unknown, url: string, seq: number, transient: boolean): Explained {
  const e = err as { code?: unknown; message?: string };
  const rc = typeof e.code === 'number' ? e.code : undefined;
  const fix =
    rc === 135
      ? "the broker's ACL does not allow publishing to the events topic; grant this user write access to it"
      : rc === 149
        ? 'the event is larger than the broker accepts; raise its message_size_limit'
        : 'check the broker log';
  const what = `Broker ${url} refused event seq ${seq} (PUBACK ${rc ?? '?'}: ${(e.message ?? '').replace(/^Publish error: /, '')})`;
  if (transient) {
    return { code: 'puback_busy', refused: false, message: `${what}; it is retried after a backoff, before any newer event.` };
  }
  return {
    code: 'puback_refused',
    refused: true,
    message: `${what}; it is kept in the outbox as refused and delivery goes on; ${fix}, then run \`otsentry outbox retry --config FILE --seq ${seq}\`.`,
  };
}
