// Canonical JSON, the event hash and chain verification: the parts a consumer needs to check
// that the signals it received are complete, unmodified and in order.
//
// Canonical form (RFC 8785 JCS for everything JSON can hold): no whitespace; object members
// sorted by key in UTF-16 code-unit order (plain JS sort); strings and numbers written exactly
// as JSON.stringify writes them (ECMAScript shortest round-trip numbers); members whose value is
// undefined, a function or a symbol are left out (in arrays they become null, as in JSON);
// non-finite numbers become null; bigint becomes a decimal string; toJSON() is honoured (Date).
//
// hash = lowercase hex SHA-256 of the UTF-8 bytes of canonical(signal without its `hash` and
// `sig` members); from v2 that covers `key_id`. sig (v2) = Ed25519 over the ASCII bytes of
// `hash` (agent/signing/keys.ts), so the signature covers everything the hash covers.
// prev_hash of the very first event of an agent is GENESIS_HASH (64 zeros).
// The published payload is canonical(signal) including `hash` and `sig`, so a consumer verifies:
//   const s = JSON.parse(payload); const { hash, sig, ...rest } = s;
//   sha256hex(canonical(rest)) === hash && rest.prev_hash === previous.hash
//   && ed25519.verify(publicKey(rest.key_id), ascii(hash), base64(sig))
import { createHash } from 'node:crypto';
import type { RiskSignal } from '../../rules/signal.js';

export const GENESIS_HASH = '0'.repeat(64);
export const GAP_RULE = 'otsentry.outbox_gap';

/** Canonical JSON text of a value (see the file header for the exact rules). */
export function canonicalJson(value: unknown): string {
  const out = write(value);
  return out === undefined ? 'null' : out;
}

function write(v: unknown): string | undefined {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(v.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = v as { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return write(obj.toJSON());
  if (Array.isArray(v)) return '[' + v.map((x) => write(x) ?? 'null').join(',') + ']';
  return '{' + members(v as Record<string, unknown>).join(',') + '}';
}

/** `"key":value` texts in key order; `keys` holds the matching keys. */
function members(rec: Record<string, unknown>, keys: string[] = []): string[] {
  const parts: string[] = [];
  for (const key of Object.keys(rec).sort()) {
    const val = write(rec[key]);
    if (val === undefined) continue;
    parts.push(JSON.stringify(key) + ':' + val);
    keys.push(key);
  }
  return parts;
}

function sha256hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Hash a signal that has neither `hash` nor `sig` yet, sign the hash when a signer is given, and
 * return the published payload: the canonical form with `hash` (and `sig`) in their sorted
 * places. One canonicalisation for all.
 */
export function sealSignal(unsealed: Omit<RiskSignal, 'hash' | 'sig'>, sign?: (hash: string) => string): { hash: string; sig?: string; payload: string } {
  const keys: string[] = [];
  const parts = members(unsealed as unknown as Record<string, unknown>, keys);
  const hash = sha256hex('{' + parts.join(',') + '}');
  const sig = sign?.(hash);
  const put = (key: string, value: string): void => {
    const at = keys.findIndex((k) => k > key);
    const i = at === -1 ? parts.length : at;
    parts.splice(i, 0, JSON.stringify(key) + ':' + JSON.stringify(value));
    keys.splice(i, 0, key);
  };
  put('hash', hash);
  if (sig !== undefined) put('sig', sig);
  return { hash, sig, payload: '{' + parts.join(',') + '}' };
}

/** SHA-256 (hex) of the canonical form of a signal without its `hash` and `sig` members. */
export function hashSignal(signal: Omit<RiskSignal, 'hash' | 'sig'> | RiskSignal): string {
  const { hash: _hash, sig: _sig, ...rest } = signal as RiskSignal;
  return sha256hex(canonicalJson(rest));
}

export interface ChainReport {
  ok: boolean;
  /** one sentence per problem, naming the seq */
  problems: string[];
}

export interface GapRange {
  first: number;
  last: number;
}

/** The seqs a gap event reports as dropped: `dropped_seqs` ranges (v2), else first..last (v1). */
export function gapEventRanges(s: RiskSignal): GapRange[] {
  const ev = s.evidence;
  if (s.rule !== GAP_RULE || ev === undefined) return [];
  if (Array.isArray(ev.dropped_seqs)) {
    return (ev.dropped_seqs as unknown[]).flatMap((r) => {
      const [first, last] = Array.isArray(r) ? r.map(Number) : [NaN, NaN];
      return Number.isInteger(first) && Number.isInteger(last) && first <= last ? [{ first, last }] : [];
    });
  }
  const first = Number(ev.first_seq);
  const last = Number(ev.last_seq);
  return Number.isInteger(first) && Number.isInteger(last) ? [{ first, last }] : [];
}

function gapRanges(signals: readonly RiskSignal[]): GapRange[] {
  return signals.flatMap(gapEventRanges);
}

/**
 * Verify a run of signals of one agent, given in seq order without duplicates (dedupe by id
 * first). Checks every hash, that seq strictly rises, that each prev_hash is the hash of the
 * event before it, and that every missing seq is covered by an outbox gap event in the list.
 */
export function verifyChain(signals: readonly RiskSignal[]): ChainReport {
  const problems: string[] = [];
  const gaps = gapRanges(signals);
  const covered = (seq: number): boolean => gaps.some((g) => seq >= g.first && seq <= g.last);
  let prev: RiskSignal | undefined;
  for (const s of signals) {
    if (hashSignal(s) !== s.hash) problems.push(`seq ${s.seq}: hash does not match the content (event modified).`);
    if (prev === undefined) {
      if (s.seq === 1 && s.prev_hash !== GENESIS_HASH) problems.push(`seq 1: prev_hash is not the genesis hash (64 zeros).`);
    } else if (s.agent !== prev.agent || s.site !== prev.site) {
      problems.push(`seq ${s.seq}: comes from ${s.site}/${s.agent}, not ${prev.site}/${prev.agent}.`);
    } else if (s.seq <= prev.seq) {
      problems.push(`seq ${s.seq}: follows seq ${prev.seq} (not rising; sort by seq and drop duplicates first).`);
    } else if (s.seq === prev.seq + 1) {
      if (s.prev_hash !== prev.hash) problems.push(`seq ${s.seq}: prev_hash does not match the hash of seq ${prev.seq} (chain broken).`);
    } else {
      for (let m = prev.seq + 1; m < s.seq; m++) {
        if (!covered(m)) {
          problems.push(`seq ${prev.seq + 1}-${s.seq - 1}: missing and not reported by an outbox gap event.`);
          break;
        }
      }
    }
    prev = s;
  }
  return { ok: problems.length === 0, problems };
}
