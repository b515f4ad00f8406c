// Reaching an OPC UA server: discovery (GetEndpoints over an unsecured channel, which needs no
// trust and shows what the server offers), the choice of the configured endpoint, and the secure
// channel plus session of a link. node-opcua's own reconnection is off: a lost link is reported,
// and the scheduler reconnects with its backoff, so every server's trouble stays its own.
import type { ClientSession, EndpointDescription, OPCUACertificateManager, OPCUAClient, UserIdentityInfo } from 'node-opcua';
import type { Logger } from 'pino';
import type { OpcuaDeviceConfig } from './config.js';
import { deprecatedPolicyMessage } from './config.js';
import { factString } from './decode.js';
import { asOpcuaError, OpcuaError, type Stage } from './errors.js';
import { loadOpcua } from './lib.js';
import { AGENT_APPLICATION_NAME } from './pki.js';

/** An endpoint as the posture audit reports it. */
export interface EndpointSummary {
  endpoint_url: string;
  security_policy: string;
  security_mode: 'None' | 'Sign' | 'SignAndEncrypt' | 'Invalid';
  /** user identity token types it accepts: anonymous, username, certificate, issued */
  user_tokens: string[];
  security_level: number;
}

const TOKEN_NAMES = ['anonymous', 'username', 'certificate', 'issued'];
const MODE_NAMES = ['Invalid', 'None', 'Sign', 'SignAndEncrypt'] as const;

export function policyName(uri: string | null | undefined): string {
  return (uri ?? '').split('#')[1] ?? (uri || 'unknown');
}

/** Strings from the server are cut (factString); a server listing many token types shows 8. */
export function summarizeEndpoints(raw: readonly EndpointDescription[]): EndpointSummary[] {
  return raw.map((e) => ({
    endpoint_url: factString(e.endpointUrl ?? ''),
    security_policy: factString(policyName(e.securityPolicyUri), 64),
    security_mode: MODE_NAMES[e.securityMode] ?? 'Invalid',
    user_tokens: [...new Set((e.userIdentityTokens ?? []).map((t) => TOKEN_NAMES[t.tokenType] ?? `type_${t.tokenType}`))].slice(0, 8),
    security_level: e.securityLevel,
  }));
}

/** Resolve p, or reject with a timeout error after ms; `onTimeout` cleans up what p left behind. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new OpcuaError('timeout', `${what} did not answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function baseOptions(cm: OPCUACertificateManager, ua: Awaited<ReturnType<typeof loadOpcua>>, connectTimeoutMs: number) {
  return {
    applicationName: AGENT_APPLICATION_NAME,
    applicationUri: ua.makeApplicationUrn(ua.getHostname(), AGENT_APPLICATION_NAME),
    clientCertificateManager: cm,
    // The URL the server advertises often names another host (its own name, a NAT address).
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    transportTimeout: connectTimeoutMs,
    keepSessionAlive: false,
  };
}

/** GetEndpoints over an unsecured channel: works before any trust exists. */
export async function discoverEndpoints(cm: OPCUACertificateManager, url: string, timeoutMs: number): Promise<EndpointDescription[]> {
  const ua = await loadOpcua();
  const client = ua.OPCUAClient.create({ ...baseOptions(cm, ua, timeoutMs), clientName: 'otsentry-discovery' });
  const stop = () => void client.disconnect().catch(() => undefined);
  try {
    return await withTimeout(
      (async () => {
        await client.connect(url);
        return await client.getEndpoints();
      })(),
      timeoutMs,
      `${url} (discovery)`,
      stop,
    );
  } catch (e) {
    // Our timer or node-opcua's transport timeout, whichever fired first: the same advice.
    const err = asOpcuaError(e, 'discovery', url);
    if (err.code === 'timeout') {
      throw new OpcuaError('timeout', `${url} did not answer OPC UA discovery within ${timeoutMs} ms; check that endpoint_url names an OPC UA server port (often 4840) and that no firewall drops the traffic`);
    }
    throw err;
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}

/** The endpoint matching the configured policy and mode, or an error listing what is offered. */
export function pickEndpoint(
  raw: readonly EndpointDescription[],
  cfg: Pick<OpcuaDeviceConfig, 'security_policy' | 'security_mode' | 'auth' | 'endpoint_url'>,
  checkLogin = true,
): EndpointDescription {
  const offered = summarizeEndpoints(raw);
  const list = offered.map((e) => `${e.security_policy}/${e.security_mode}`).join(', ') || 'none';
  const i = offered.findIndex((e) => e.security_policy === cfg.security_policy && e.security_mode === cfg.security_mode);
  if (i < 0) {
    const old = offered.filter((e) => e.security_policy === 'Basic128Rsa15' || e.security_policy === 'Basic256');
    const note = old.length === offered.length && old.length > 0 ? ` It offers only deprecated policies: ${deprecatedPolicyMessage(old[0].security_policy)}.` : '';
    throw new OpcuaError('security', `${cfg.endpoint_url} offers no ${cfg.security_policy}/${cfg.security_mode} endpoint (it offers: ${list}); set security_policy and security_mode to one of them.${note}`);
  }
  const token = cfg.auth.type;
  if (checkLogin && !offered[i].user_tokens.includes(token)) {
    throw new OpcuaError('security', `the ${cfg.security_policy}/${cfg.security_mode} endpoint of ${cfg.endpoint_url} does not accept ${token} logins (it accepts: ${offered[i].user_tokens.join(', ') || 'none'}); change auth.type`);
  }
  return raw[i];
}

export interface Link {
  readonly client: OPCUAClient;
  readonly session: ClientSession;
  /** true once the channel or session is gone; the link is then closed and replaced */
  readonly lost: boolean;
  close(): Promise<void>;
}

export interface LinkOptions {
  cm: OPCUACertificateManager;
  cfg: OpcuaDeviceConfig;
  endpoint: EndpointDescription;
  user: UserIdentityInfo;
  /** for messages: the agent certificate file the server must trust */
  agentCert: string;
  log?: Logger;
  onLost(err: OpcuaError): void;
}

/** Open the secure channel and the session; rejects with an OpcuaError that says what to do. */
export async function openLink(o: LinkOptions): Promise<Link> {
  const ua = await loadOpcua();
  const { cfg } = o;
  const client = ua.OPCUAClient.create({
    ...baseOptions(o.cm, ua, cfg.connect_timeout_ms),
    clientName: `otsentry-${cfg.id}`,
    securityMode: ua.MessageSecurityMode[cfg.security_mode],
    securityPolicy: ua.SecurityPolicy[cfg.security_policy],
    serverCertificate: o.endpoint.serverCertificate ?? undefined,
    requestedSessionTimeout: cfg.session_timeout_ms,
    defaultTransactionTimeout: cfg.timeout_ms,
  });
  let lost = false;
  let closing = false;
  const markLost = (why: string) => {
    if (lost || closing) return;
    lost = true;
    o.onLost(new OpcuaError('connection_lost', `connection to ${cfg.endpoint_url} was lost (${why})`));
  };
  let stage: Stage = 'channel';
  const user = o.user.type === ua.UserTokenType.UserName ? (o.user as { userName?: string }).userName : undefined;
  try {
    const session = await withTimeout(
      (async () => {
        await client.connect(cfg.endpoint_url);
        stage = 'session';
        return await client.createSession(o.user);
      })(),
      cfg.connect_timeout_ms,
      `${cfg.endpoint_url} (secure channel and session)`,
      () => void client.disconnect().catch(() => undefined),
    );
    client.on('close', () => markLost('channel closed'));
    client.on('connection_lost', () => markLost('connection broken'));
    client.on('start_reconnection', () => markLost('connection broken'));
    session.on('session_closed', () => markLost('session closed by the server'));
    session.on('keepalive_failure', () => markLost('session keep-alive failed'));
    return {
      client,
      session,
      get lost() {
        return lost;
      },
      async close() {
        closing = true;
        if (!lost) await withTimeout(session.close(true), cfg.timeout_ms, 'session close').catch(() => undefined);
        await withTimeout(client.disconnect(), cfg.timeout_ms, 'disconnect').catch(() => undefined);
      },
    };
  } catch (e) {
    closing = true;
    await client.disconnect().catch(() => undefined);
    throw asOpcuaError(e, stage, cfg.endpoint_url, { agentCert: o.agentCert, user });
  }
}
