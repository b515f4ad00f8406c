// `otsentry verify --broker URL`: subscribe like a consumer would (QoS 1, retained status and
// assets included) and feed every message to a Capture until a count, a duration or Ctrl-C.
import crypto from 'node:crypto';
import fs from 'node:fs';
import mqtt, { type IClientOptions } from 'mqtt';
import type { Capture } from './capture.js';
import { OperationalError } from '../../protocols/errors.js';

export interface SubscribeOptions {
  url: string;
  topic: string;
  /** stop after this many event messages (duplicates included) */
  count?: number;
  durationMs?: number;
  username?: string;
  passwordFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure?: boolean;
  /** resolves when the user interrupts (Ctrl-C) */
  stop: Promise<unknown>;
  /** called once the subscription is in place (messages from now on are captured) */
  onSubscribed?: () => void;
  connectTimeoutMs?: number;
}

/** An operational error of the subscription (exit 1): unreachable broker, refused login, bad file. */
export class SubscribeError extends OperationalError {
  constructor(message: string, code: string) {
    super(code, message, 'verify');
  }
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new SubscribeError(`${what} ${file} cannot be read (${(e as NodeJS.ErrnoException).code}); check the path.`, 'verify_file');
  }
}

/** Resolves when the capture ends; true when it ended because the connection was lost. */
export async function subscribeCapture(capture: Capture, o: SubscribeOptions): Promise<boolean> {
  const opts: IClientOptions = {
    clientId: `otsentry-verify-${crypto.randomBytes(4).toString('hex')}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    protocolVersion: 4,
  };
  if (o.username !== undefined) opts.username = o.username;
  if (o.passwordFile !== undefined) opts.password = readFile(o.passwordFile, '--password-file').toString('utf8').trim();
  if (o.caFile !== undefined) opts.ca = readFile(o.caFile, '--tls-ca');
  if (o.certFile !== undefined) opts.cert = readFile(o.certFile, '--tls-cert');
  if (o.keyFile !== undefined) opts.key = readFile(o.keyFile, '--tls-key');
  if (o.insecure) opts.rejectUnauthorized = false;

  const client = mqtt.connect(o.url, opts);
  let n = 0;
  let events = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  client.on('message', (topic, payload) => {
    capture.message(topic, payload.toString('utf8'), ++n);
    if (topic.endsWith('/events') && o.count !== undefined && ++events >= o.count) finish();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (e) => reject(new SubscribeError(`broker ${redact(o.url)}: ${e.message}; check --broker, --username/--password-file and the TLS options.`, 'verify_broker')));
      client.once('close', () => reject(new SubscribeError(`broker ${redact(o.url)}: connection closed before it was accepted; check --broker and that the broker runs.`, 'verify_broker')));
    });
    const granted = await client.subscribeAsync(o.topic, { qos: 1 });
    if (granted.some((g) => g.qos === 128)) throw new SubscribeError(`broker ${redact(o.url)} refused the subscription to ${o.topic}; check the ACL for this user.`, 'verify_broker');
    o.onSubscribed?.();
    const timer = o.durationMs === undefined ? undefined : setTimeout(finish, o.durationMs);
    let lost = false;
    client.on('close', () => {
      lost = true;
      finish();
    });
    await Promise.race([done, o.stop]);
    if (timer) clearTimeout(timer);
    return lost;
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^/@\s]*@/i, '$1***@');
}
