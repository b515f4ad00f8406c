// Broker config → mqtt.js client options: client id, credentials via resolveSecret, TLS and
// mutual TLS files, topics. Static problems throw ForwardError at construction (fail fast).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IClientOptions } from 'mqtt';
import type { BrokerConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import { OperationalError } from '../../protocols/errors.js';

export class ForwardError extends OperationalError {
  constructor(message: string, code: string) {
    super(code, message, 'forward');
  }
}

export interface Topics {
  events: string;
  status: string;
  assets: string;
}

export function topicsFor(prefix: string, site: string, agent: string): Topics {
  const base = `${prefix}/${site}/${agent}`;
  return { events: `${base}/events`, status: `${base}/status`, assets: `${base}/assets` };
}

/** The broker URL for logs and messages: credentials in it (mqtt://user:pass@host) are masked. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^/@\s]*@/i, '$1***@');
}

export function defaultClientId(site: string, agent: string): string {
  return `otsentry-${site}-${agent}`;
}

/** The broker fields clientOptions reads: the agent's broker section, and central's. */
export type ClientBrokerFields = Pick<BrokerConfig, 'url' | 'client_id' | 'username' | 'password' | 'tls' | 'keepalive_secs' | 'connect_timeout_ms'>;

/** mqtt.js options that do not change between connection attempts (no will, no version). */
export function clientOptions(broker: ClientBrokerFields, site: string, agent: string, baseDir: string): IClientOptions {
  const opts: IClientOptions = {
    clientId: broker.client_id ?? defaultClientId(site, agent),
    // The outbox is the durable store: no broker session needed, in-flight is resent from it.
    clean: true,
    keepalive: broker.keepalive_secs,
    connectTimeout: broker.connect_timeout_ms,
    // Reconnection with exponential backoff is ours (backoff.ts); mqtt.js only has a fixed period.
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
    // mqtt-packet would otherwise keep 65,536 two-byte Buffers (every 16-bit number: packet ids,
    // lengths) for the process's life: about 6 MB of heap for a few nanoseconds per publish.
    writeCache: false,
  };
  if (broker.username !== undefined) opts.username = broker.username;
  if (broker.password !== undefined) opts.password = resolveSecret(broker.password, baseDir, 'broker.password');
  const tls = broker.tls;
  const secure = /^(mqtts|ssl|wss):/.test(broker.url);
  if (tls !== undefined) {
    if (!secure) {
      throw new ForwardError(`broker.tls is set but broker.url ${broker.url} is not a TLS URL; use mqtts://host:8883.`, 'tls_url_mismatch');
    }
    if (tls.ca_file !== undefined) opts.ca = readPem(tls.ca_file, baseDir, 'broker.tls.ca_file');
    if (tls.cert_file !== undefined) opts.cert = readPem(tls.cert_file, baseDir, 'broker.tls.cert_file');
    if (tls.key_file !== undefined) {
      const key = readPem(tls.key_file, baseDir, 'broker.tls.key_file');
      const passphrase = tls.key_passphrase === undefined ? undefined : resolveSecret(tls.key_passphrase, baseDir, 'broker.tls.key_passphrase');
      opts.key = loadKey(key, passphrase, path.resolve(baseDir, tls.key_file), 'broker.tls');
    }
    opts.rejectUnauthorized = tls.reject_unauthorized;
    if (tls.servername !== undefined) opts.servername = tls.servername;
  }
  return opts;
}

/** A PEM file named in the config (TLS of the broker or of a SIEM output), read now for a clear error. */
export function readPem(file: string, baseDir: string, where: string): Buffer {
  const full = path.resolve(baseDir, file);
  try {
    return fs.readFileSync(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ForwardError(`${where}: cannot read ${full} (${code}); check the path (relative to the config file) and its permissions.`, 'tls_file');
  }
}

/**
 * Decrypt the client key now, so a wrong passphrase is a clear startup error and not a TLS
 * retry loop; the decrypted key is handed to TLS as PKCS#8 PEM.
 */
export function loadKey(key: Buffer, passphrase: string | undefined, file: string, where: string): string {
  try {
    return crypto.createPrivateKey({ key, passphrase }).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (e) {
    const encrypted = /ENCRYPTED/.test(key.toString('latin1'));
    const fix =
      encrypted && passphrase === undefined
        ? `the key is encrypted: set ${where}.key_passphrase`
        : encrypted
          ? 'the key_passphrase does not decrypt it; check the secret'
          : 'give a PEM private key';
    throw new ForwardError(`${where}.key_file: cannot load the private key ${file} (${(e as Error).message}); ${fix}.`, 'tls_key');
  }
}
