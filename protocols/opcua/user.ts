// The user identity of an OPC UA session: anonymous, user name with a password from an environment
// variable or a file, or an X.509 user certificate with its key. Secrets and files are read once
// when the poller is created, so a missing secret stops the agent at start with the place named.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { UserIdentityInfo } from 'node-opcua';
import type { OpcuaDeviceConfig } from './config.js';
import { loadOpcua } from './lib.js';
import { OperationalError } from '../errors.js';

export class OpcuaConfigError extends OperationalError {
  constructor(message: string) {
    super('config_invalid', message, 'config');
  }
}

export interface UserIdentitySource {
  /** for messages: who logs in */
  readonly describe: string;
  get(): Promise<UserIdentityInfo>;
}

function readSecret(ref: { env?: string; file?: string }, baseDir: string, where: string): string {
  if (ref.env !== undefined) {
    const v = process.env[ref.env];
    if (v === undefined || v === '') throw new OpcuaConfigError(`${where}: environment variable ${ref.env} is not set; export it before starting otsentry`);
    return v;
  }
  const file = path.resolve(baseDir, ref.file!);
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new OpcuaConfigError(`${where}: cannot read secret file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check the path and its permissions`);
  }
}

function readFile(file: string, where: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new OpcuaConfigError(`${where}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check the path (relative paths start at the config file's folder)`);
  }
}

export function userIdentity(cfg: OpcuaDeviceConfig, baseDir: string): UserIdentitySource {
  const at = `device ${cfg.id} auth`;
  const auth = cfg.auth;
  if (auth.type === 'anonymous') {
    return { describe: 'anonymous', get: async () => ({ type: (await loadOpcua()).UserTokenType.Anonymous }) };
  }
  if (auth.type === 'username') {
    const password = readSecret(auth.password, baseDir, `${at}.password`);
    return {
      describe: `user ${auth.username}`,
      get: async () => ({ type: (await loadOpcua()).UserTokenType.UserName, userName: auth.username, password }),
    };
  }
  const certFile = path.resolve(baseDir, auth.cert_file);
  const keyFile = path.resolve(baseDir, auth.key_file);
  const certRaw = readFile(certFile, `${at}.cert_file`);
  let certificateData: Buffer;
  try {
    certificateData = new X509Certificate(certRaw).raw;
  } catch {
    throw new OpcuaConfigError(`${at}.cert_file: ${certFile} is not an X.509 certificate (PEM or DER)`);
  }
  const keyPem = readFile(keyFile, `${at}.key_file`).toString('latin1');
  try {
    createPrivateKey(keyPem);
  } catch {
    throw new OpcuaConfigError(`${at}.key_file: ${keyFile} is not an unencrypted private key (PEM)`);
  }
  return {
    describe: `user certificate ${new X509Certificate(certRaw).subject.split('\n').join(', ')}`,
    get: async () => ({
      type: (await loadOpcua()).UserTokenType.Certificate,
      certificateData,
      // A PEM string: node-opcua's preferred keyOperations come from a package the agent does not depend on.
      privateKey: keyPem,
    }),
  };
}
