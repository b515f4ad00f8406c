// The agent's Ed25519 signing key: made once at first start in data_dir, loaded on every start,
// never replaced silently. Signs each signal's hash; the public half goes out in status/assets.
//
// File: {data_dir}/signing_key.pem, PKCS#8 PEM, mode 0600 (refused when group/others can read
// or write it). key_id = first 16 hex digits of SHA-256 over the 32 raw public key bytes.
// signature = Ed25519 over the ASCII bytes of the signal's `hash` (64 lowercase hex digits),
// published base64 (standard alphabet, padded) in the signal's `sig` member.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { secretFileProblem } from '../config/permissions.js';
import { OperationalError } from '../../protocols/errors.js';

export const SIGNING_KEY_FILE = 'signing_key.pem';
export const SIGNATURE_ALGORITHM = 'Ed25519';

export type SigningKeyErrorCode = 'signing_key_missing' | 'signing_key_corrupt' | 'signing_key_permissions' | 'signing_key_unavailable';

export class SigningKeyError extends OperationalError {
  declare readonly code: SigningKeyErrorCode;
  constructor(message: string, code: SigningKeyErrorCode) {
    super(code, message, 'outbox');
  }
}

/** What consumers need to verify signatures: published in status and assets. */
export interface PublicKeyInfo {
  algorithm: typeof SIGNATURE_ALGORITHM;
  key_id: string;
  /** SPKI PEM */
  public_key: string;
}

export interface Signer {
  readonly keyId: string;
  readonly info: PublicKeyInfo;
  /** base64 Ed25519 signature over the ASCII bytes of `hash` */
  sign(hash: string): string;
}

/** The path of the key file inside a data_dir. */
export function signingKeyFile(dataDir: string): string {
  return path.join(dataDir, SIGNING_KEY_FILE);
}

/** key_id of an Ed25519 public key: 16 hex digits of SHA-256 over its 32 raw bytes. */
export function keyIdOf(publicKey: KeyObject): string {
  // SPKI DER of Ed25519 is a fixed 12-byte header followed by the raw 32-byte key.
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function publicKeyInfo(publicKey: KeyObject): PublicKeyInfo {
  return { algorithm: SIGNATURE_ALGORITHM, key_id: keyIdOf(publicKey), public_key: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

/** A signer over a private key object. */
export function signerFor(privateKey: KeyObject): Signer {
  const info = publicKeyInfo(crypto.createPublicKey(privateKey));
  return {
    keyId: info.key_id,
    info,
    sign: (hash) => crypto.sign(null, Buffer.from(hash, 'ascii'), privateKey).toString('base64'),
  };
}

/** A throwaway key held only in memory (tests, tools); the agent uses loadSigningKey. */
export function ephemeralSigner(): Signer {
  return signerFor(crypto.generateKeyPairSync('ed25519').privateKey);
}

/** True when `sig` is a valid signature of `hash` by `publicKey`. */
export function verifySignature(hash: string, sig: string, publicKey: KeyObject): boolean {
  try {
    return crypto.verify(null, Buffer.from(hash, 'ascii'), publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/** An Ed25519 public key from PEM text (a public key, or a private key whose public half is taken). */
export function parsePublicKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = crypto.createPublicKey(pem);
  } catch (e) {
    throw new SigningKeyError(`${where}: not a PEM public key (${(e as Error).message}); give the PEM printed by \`otsentry key --config FILE\`.`, 'signing_key_corrupt');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`${where}: is a ${key.asymmetricKeyType} key, not Ed25519; give the PEM printed by \`otsentry key --config FILE\`.`, 'signing_key_corrupt');
  }
  return key;
}

export interface LoadKeyOptions {
  /** may a missing key file be created (false when an existing outbox chain is signed already) */
  create: boolean;
  /** sentence explaining why a missing key is refused (names the outbox file and the way out) */
  refuseMissing?: string;
}

/**
 * Load the key from data_dir, or make it when missing and allowed. Every failure is a
 * SigningKeyError naming the file and the fix; a bad or missing file is never replaced.
 */
export function loadSigningKey(dataDir: string, opts: LoadKeyOptions): Signer {
  const file = signingKeyFile(dataDir);
  let text: string;
  try {
    const unsafe = secretFileProblem(file);
    if (unsafe !== undefined) throw new SigningKeyError(`signing key: ${unsafe}`, 'signing_key_permissions');
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof SigningKeyError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new SigningKeyError(`signing key ${file} cannot be read (${code}); check that the otsentry user owns it.`, 'signing_key_unavailable');
    if (!opts.create) throw new SigningKeyError(`signing key ${file} is missing. ${opts.refuseMissing ?? ''}`.trim(), 'signing_key_missing');
    return signerFor(createKeyFile(file));
  }
  return signerFor(parsePrivateKey(text, file));
}

function parsePrivateKey(text: string, file: string): KeyObject {
  const fix = `restore ${file} from a backup; if it is lost, see "Signing key" in the README (a new key starts a new chain)`;
  let key: KeyObject;
  try {
    key = crypto.createPrivateKey(text);
  } catch (e) {
    throw new SigningKeyError(`signing key ${file} is corrupt (${(e as Error).message}); ${fix}.`, 'signing_key_corrupt');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`signing key ${file} is a ${key.asymmetricKeyType} key, not Ed25519; ${fix}.`, 'signing_key_corrupt');
  return key;
}

/** Write a new key atomically (temp file, fsync, link): a crash never leaves a half-written key. */
function createKeyFile(file: string): KeyObject {
  const dir = path.dirname(file);
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, pem);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
    } catch (e) {
      // Another process made the key first: use that one.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return parsePrivateKey(fs.readFileSync(file, 'utf8'), file);
      throw e;
    }
    syncDir(dir);
    return privateKey;
  } catch (e) {
    if (e instanceof SigningKeyError) throw e;
    throw new SigningKeyError(`signing key ${file} cannot be created (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that data_dir is writable by the otsentry user.`, 'signing_key_unavailable');
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Not every file system lets a directory be fsynced; the key file itself is synced.
  }
}
