// Signal fixtures for the verifier tests: real outbox chains (signed, or v1 as old agents wrote
// them), re-sealing helpers for forgeries, and the verifier's options for a given key.
import { createPublicKey } from 'node:crypto';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { sealSignal } from '../../agent/outbox/canonical.js';
import { ephemeralSigner, type Signer } from '../../agent/signing/keys.js';
import type { RiskSignal, SignalDraft } from '../../rules/signal.js';
import type { OutboxConfig } from '../../agent/config/schema.js';
import { verifySignals, type CapturedSignal, type KnownKey, type VerifyOptions, type VerifyReport } from '../../agent/verify/verify.js';
import { drafts, roomyLimits } from '../outbox/drafts.js';

export const agentKey = ephemeralSigner();

export function knownKey(signer: Signer, source = 'test'): KnownKey {
  return { key_id: signer.keyId, key: createPublicKey(signer.info.public_key), source };
}

/** A signed chain of `count` events from one in-memory outbox. */
export function signedChain(count: number, signer = agentKey): RiskSignal[] {
  const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits, signer });
  try {
    return box.append(drafts(count));
  } finally {
    box.close();
  }
}

/** An outbox with tight limits; the test drives appends, acks and reads. */
export function tightBox(limits: Partial<OutboxConfig>, signer = agentKey, file = ':memory:'): SqliteOutbox {
  return SqliteOutbox.open({ file, agent: 'gw-1', site: 'plant-a', limits: { ...roomyLimits, ...limits }, signer });
}

export function pendingSignals(box: SqliteOutbox): RiskSignal[] {
  return box.pending(1_000_000).map((e) => JSON.parse(e.payload) as RiskSignal);
}

/** A v1 chain as agents before signing wrote it: no key_id, no sig. */
export function v1Chain(list: readonly SignalDraft[], start = { seq: 0, hash: '0'.repeat(64) }): RiskSignal[] {
  let { seq, hash } = start;
  return list.map((d, i) => {
    const base = { ...d, v: 1, id: `v1-${i}`, seq: ++seq, agent: 'gw-1', site: 'plant-a', prev_hash: hash };
    const sealed = sealSignal(base);
    hash = sealed.hash;
    return JSON.parse(sealed.payload) as RiskSignal;
  });
}

/** Re-hash (and re-sign with `signer`, if given) an edited signal, as a forger would. */
export function reseal(s: RiskSignal, signer?: Signer): RiskSignal {
  const { hash: _h, sig: _s, ...rest } = s;
  return JSON.parse(sealSignal(signer ? { ...rest, key_id: signer.keyId } : rest, signer?.sign).payload) as RiskSignal;
}

export function captured(signals: readonly RiskSignal[]): CapturedSignal[] {
  return signals.map((signal, i) => ({ line: i + 1, signal }));
}

export function verify(signals: readonly RiskSignal[], opts: Partial<VerifyOptions> = {}): VerifyReport {
  return verifySignals(captured(signals), { keys: [knownKey(agentKey)], announced: new Map(), ...opts });
}

/** `code seq` of every problem of the only agent. */
export function problemsOf(r: VerifyReport): string[] {
  return r.agents.flatMap((a) => a.problems.map((p) => `${p.code} ${p.seq ?? '-'}`));
}
