// Password hashes for console users: scrypt from Node's crypto (OpenSSL), in the PHC string format
// `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (base64, no padding). Why scrypt and not a package: it is
// memory-hard, on OWASP's list of password hashes, maintained with Node and OpenSSL, and needs no
// native addon to build on a gateway or in CI; verification runs off the event loop.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** OWASP's scrypt minimum: N = 2^17, r = 8, p = 1 (128 MiB, about 0.3 s per hash here). */
export const DEFAULT_COST = { ln: 17, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Refuse hashes whose cost would let a config file (or a login flood) exhaust memory or CPU. */
const MAX_LN = 20;

export interface ScryptCost {
  ln: number;
  r: number;
  p: number;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})$/;

interface Parsed {
  cost: ScryptCost;
  salt: Buffer;
  hash: Buffer;
}

function parse(s: string): Parsed | undefined {
  const m = PHC.exec(s);
  if (!m) return undefined;
  const cost = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (cost.ln < 10 || cost.ln > MAX_LN || cost.r < 1 || cost.p < 1) return undefined;
  return { cost, salt: Buffer.from(m[4]!, 'base64'), hash: Buffer.from(m[5]!, 'base64') };
}

/** Why a password_hash string is not usable, or undefined when it is. */
export function passwordHashProblem(s: string): string | undefined {
  if (!s.startsWith('$scrypt$')) return 'not a hash from `otsentry central hash-password` (it starts with $scrypt$)';
  if (!parse(s)) return `a $scrypt$ hash with ln 10-${MAX_LN}, r and p at least 1, a salt and a hash in base64; make it again with \`otsentry central hash-password\``;
  return undefined;
}

function derive(password: string, salt: Buffer, c: ScryptCost, bytes: number): Promise<Buffer> {
  const N = 2 ** c.ln;
  const opts: ScryptOptions = { N, r: c.r, p: c.p, maxmem: 128 * N * c.r * 2 + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, bytes, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost, KEY_BYTES);
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(key)}`;
}

/** True when the password matches; a malformed hash never matches. Constant time in the comparison. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const p = parse(stored);
  if (!p) return false;
  const key = await derive(password, p.salt, p.cost, p.hash.length);
  return key.length === p.hash.length && timingSafeEqual(key, p.hash);
}
