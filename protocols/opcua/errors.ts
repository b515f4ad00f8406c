// OPC UA errors with stable codes, and the translation of node-opcua's errors (long texts with a
// status code name somewhere inside) into one sentence that names the place and the fix.
import type { PollError, PollErrorCode } from '../types.js';
import { OperationalError } from '../errors.js';

/** An Error that is also a PollError: what the OPC UA poller's connect() rejects with. */
export class OpcuaError extends OperationalError implements PollError {
  declare readonly code: PollErrorCode;
  request?: string;

  constructor(code: PollErrorCode, message: string) {
    super(code, message, 'poll');
  }

  toPollError(): PollError {
    const e: PollError = { code: this.code, message: this.message };
    if (this.request !== undefined) e.request = this.request;
    return e;
  }
}

/** Status code name (BadSecurityChecksFailed, ...) inside a node-opcua error, if any. */
export function statusName(e: unknown): string | undefined {
  const msg = messageOf(e);
  const m = /\b((?:Bad|Uncertain)[A-Za-z0-9]+)\b/.exec(msg);
  return m?.[1];
}

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === 'string' ? e : String(e);
}

/** Where the error happened, for the message. */
export type Stage = 'discovery' | 'channel' | 'session' | 'read' | 'subscription';

/**
 * Translate anything node-opcua or the network throws into an OpcuaError with a clear message.
 * `where` names the endpoint; `hints` add what only the caller knows (the agent's certificate path).
 */
export function asOpcuaError(e: unknown, stage: Stage, where: string, hints: { agentCert?: string; user?: string } = {}): OpcuaError {
  if (e instanceof OpcuaError) return e;
  const msg = messageOf(e);
  const sys = (e as { code?: unknown } | null)?.code;
  const status = statusName(e);
  const has = (re: RegExp) => re.test(msg) || (typeof sys === 'string' && re.test(sys));
  if (has(/ECONNREFUSED/)) return new OpcuaError('connect_refused', `nothing listens at ${where} (connection refused); check endpoint_url and that the server runs`);
  if (has(/ENOTFOUND|EAI_AGAIN/)) return new OpcuaError('connect_refused', `host of ${where} not found; check the host name in endpoint_url`);
  if (has(/EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL/)) return new OpcuaError('connect_refused', `${where} is unreachable (${msg.match(/E[A-Z]+/)?.[0]}); check the network route to the server`);
  // node-opcua words every failed Hello "may have been rejected by server" and a frame it cannot
  // assemble as an error "waiting for data" with hadError true: garbage, not a refusal or a timeout.
  if (stage === 'discovery' && has(/failed to decode|malformed|truncated|hadError\s*true|BadTcpMessageTooLarge|BadTcpMessageTypeInvalid|chunk/i)) {
    return new OpcuaError('bad_response', `${where} did not answer as an OPC UA server (a malformed, truncated or oversized answer to Hello); check the port in endpoint_url`);
  }
  if (has(/ECONNRESET|EPIPE|socket has been disconnected|Connection Break|BadConnectionClosed|has been closed|Invalid Channel|premature|BadSecureChannelClosed|BadSessionClosed|BadSessionIdInvalid|BadSecureChannelIdInvalid/i)) {
    return new OpcuaError('connection_lost', `connection to ${where} was lost during ${stage}${status ? ` (${status})` : ''}`);
  }
  if (status === 'BadTimeout' || has(/ETIMEDOUT|timeout|timed out/i)) return new OpcuaError('timeout', `${where} did not answer in time during ${stage}`);
  if (status === 'BadCertificateUntrusted' || status === 'BadCertificateChainIncomplete') {
    return new OpcuaError('security', `the server certificate of ${where} is not trusted; if it is the right server, run \`otsentry trust --config FILE\` (or set trust_on_first_use)`);
  }
  if (status === 'BadCertificateTimeInvalid' || status === 'BadCertificateIssuerTimeInvalid') {
    return new OpcuaError('security', `the server certificate of ${where} has expired or is not valid yet (${status}); renew it on the server, then trust the new one`);
  }
  if (status === 'BadCertificateHostNameInvalid' || status === 'BadCertificateUriInvalid') {
    return new OpcuaError('security', `the server certificate of ${where} does not match its host name or application URI (${status}); check endpoint_url or the server certificate`);
  }
  // Discovery runs over an unsecured channel: no certificate can be rejected there.
  if (status === 'BadSecurityChecksFailed' || status === 'BadCertificateInvalid' || status === 'BadCertificateRevoked' || status === 'BadNoValidCertificates' || (stage !== 'discovery' && has(/rejected by server/i))) {
    const cert = hints.agentCert ? ` Its trusted folder must hold the agent certificate ${hints.agentCert}.` : '';
    return new OpcuaError('security', `${where} rejected the agent's application certificate (${status ?? 'rejected'}): the server does not trust it yet.${cert} For the bundled simulator start it with --trust-client ${hints.agentCert ?? 'FILE'}; the agent retries by itself.`);
  }
  if (status === 'BadSecurityPolicyRejected' || status === 'BadSecurityModeRejected') {
    return new OpcuaError('security', `${where} refused the security policy or mode (${status}); set security_policy and security_mode to an endpoint it offers`);
  }
  if (status === 'BadUserAccessDenied' || status === 'BadIdentityTokenInvalid' || status === 'BadIdentityTokenRejected' || status === 'BadUserSignatureInvalid') {
    const who = hints.user ? ` as ${hints.user}` : '';
    return new OpcuaError('security', `${where} refused the login${who} (${status}); check auth (user name, password or user certificate) and that the server allows this user`);
  }
  if (status === 'BadTooManySessions' || status === 'BadTcpServerTooBusy' || status === 'BadServerHalted' || status === 'BadTooManySubscriptions') {
    return new OpcuaError('connect_refused', `${where} refused the ${stage} (${status}); the server is busy or shutting down`);
  }
  if (has(/RSA_PKCS1_PADDING|PKCS#1 v1.5|CVE-2023-46809/i)) {
    return new OpcuaError('security', `${where} needs RSA PKCS#1 v1.5 (Basic128Rsa15), which Node 20 and later disable; configure the server for Basic256Sha256 or newer`);
  }
  if (has(/BadTcpMessageTypeInvalid|BadTcpEndpointUrlInvalid|BadDecodingError|Invalid message header|HEL|ACK|BadTcpInternalError|BadCommunicationError|invalid/i) && stage === 'discovery') {
    return new OpcuaError('bad_response', `${where} did not answer as an OPC UA server (${status ?? 'unexpected data'}); check the port in endpoint_url`);
  }
  if (status) return new OpcuaError(status.startsWith('BadSecurity') || status.startsWith('BadCertificate') ? 'security' : 'opcua_status', `${where}: ${stage} failed with ${status}`);
  return new OpcuaError('unknown', `${where}: ${stage} failed: ${msg.split('\n')[0].slice(0, 300)}`);
}
