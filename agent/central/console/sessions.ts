// Console sessions and login throttling, in memory: a session is a random token in an HttpOnly
// cookie (only its SHA-256 is kept), with its own CSRF token, an idle and an absolute lifetime.
// Several central processes behind one address would each need their own login (sticky sessions).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ConsoleRole } from './config.js';

export interface Session {
  name: string;
  role: ConsoleRole;
  /** sent back on every state-changing request in the X-CSRF-Token header */
  csrf: string;
  created_ms: number;
  seen_ms: number;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export class Sessions {
  private readonly byDigest = new Map<string, Session>();

  constructor(
    private readonly idleMs: number,
    private readonly maxMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session; returns the cookie token (kept nowhere but in the browser). */
  create(name: string, role: ConsoleRole): { token: string; session: Session } {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: Session = { name, role, csrf: randomBytes(32).toString('base64url'), created_ms: t, seen_ms: t };
    this.byDigest.set(digest(token), session);
    return { token, session };
  }

  /** The live session of this cookie token (and marks it seen), or undefined. */
  get(token: string | undefined, touch = true): Session | undefined {
    if (!token) return undefined;
    const key = digest(token);
    const s = this.byDigest.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.seen_ms > this.idleMs || t - s.created_ms > this.maxMs) {
      this.byDigest.delete(key);
      return undefined;
    }
    if (touch) s.seen_ms = t;
    return s;
  }

  end(token: string | undefined): void {
    if (token) this.byDigest.delete(digest(token));
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.byDigest) if (t - s.seen_ms > this.idleMs || t - s.created_ms > this.maxMs) this.byDigest.delete(k);
  }

  get size(): number {
    return this.byDigest.size;
  }
}

export function csrfMatches(s: Session, header: string | undefined): boolean {
  if (!header) return false;
  const a = Buffer.from(header);
  const b = Buffer.from(s.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Failed logins per key (a user name, a client address) within a window; a key at the limit waits
 * until its oldest failure leaves the window, whatever password it tries.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before another try from any of these keys, or 0. */
  waitSecs(keys: readonly string[]): number {
    const t = this.now();
    let wait = 0;
    for (const k of keys) {
      const f = (this.failures.get(k) ?? []).filter((x) => t - x < this.windowMs);
      if (f.length === 0) this.failures.delete(k);
      else this.failures.set(k, f);
      if (f.length >= this.max) wait = Math.max(wait, Math.ceil((f[0]! + this.windowMs - t) / 1000));
    }
    return wait;
  }

  fail(keys: readonly string[]): void {
    const t = this.now();
    if (this.failures.size > 100_000) this.failures.clear(); // a flood of distinct keys must not grow memory without end
    for (const k of keys) this.failures.set(k, [...(this.failures.get(k) ?? []), t].slice(-this.max));
  }

  succeed(keys: readonly string[]): void {
    for (const k of keys) this.failures.delete(k);
  }
}
