// The per-signal checks every consumer makes, shared by `otsentry verify` (a whole capture at
// once, verify.ts) and the central process (one signal as it arrives): the hash over the content,
// the Ed25519 signature against a known key, and what an outbox gap event says about the seqs it
// reports dropped (their ranges and the hashes needed to check a link across them).
import type { KeyObject } from 'node:crypto';
import { GAP_RULE, hashSignal } from '../outbox/canonical.js';
import { verifySignature } from '../signing/keys.js';
import type { RiskSignal } from '../../rules/signal.js';

export interface SignalCheck {
  /** the hash matches the content */
  hashOk: boolean;
  /** v2: the signature verifies with the key of its key_id; undefined for v1 or when no key is known for that key_id */
  sigOk?: boolean;
}

/**
 * Hash and signature of one signal; `keyFor` gives the public key of a key id, if known.
 * `sigChecked`: the signature's verdict when it was checked already (central checks a batch of
 * signatures on worker threads).
 */
export function checkSignal(s: RiskSignal, keyFor: (keyId: string) => KeyObject | undefined, sigChecked?: boolean): SignalCheck {
  const hashOk = hashSignal(s) === s.hash;
  if (s.v < 2) return { hashOk };
  const key = typeof s.key_id === 'string' ? keyFor(s.key_id) : undefined;
  if (key === undefined) return { hashOk };
  return { hashOk, sigOk: typeof s.sig === 'string' && (sigChecked ?? verifySignature(s.hash, s.sig, key)) };
}

/** The `evidence.dropped_hashes` of a gap event: seq -> hash of each dropped seq it names. */
export function droppedHashes(s: RiskSignal): Map<number, string> {
  const out = new Map<number, string>();
  if (s.rule !== GAP_RULE) return out;
  const h = s.evidence?.dropped_hashes;
  if (h !== null && typeof h === 'object') for (const [seq, hash] of Object.entries(h as Record<string, unknown>)) if (typeof hash === 'string') out.set(Number(seq), hash);
  return out;
}
