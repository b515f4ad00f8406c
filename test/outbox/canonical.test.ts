// Canonical JSON, the event hash as a consumer recomputes it, and verifyChain's verdicts.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, canonicalJson, hashSignal, sealSignal, verifyChain } from '../../agent/outbox/canonical.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import type { RiskSignal } from '../../rules/signal.js';
import { draft, drafts, roomyLimits } from './drafts.js';

function memoryBox(): SqliteOutbox {
  return SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
}

describe('canonicalJson', () => {
  it.each([
    [{ b: 1, a: [3, { d: null, c: 'x' }] }, '{"a":[3,{"c":"x","d":null}],"b":1}'],
    [{ u: undefined, f: () => 1, n: NaN, i: Infinity }, '{"i":null,"n":null}'],
    [[undefined, 1e21, 0.1, -0], '[null,1e+21,0.1,0]'],
    [{ big: 12345678901234567890n }, '{"big":"12345678901234567890"}'],
    [{ d: new Date(0) }, '{"d":"1970-01-01T00:00:00.000Z"}'],
    [{ 'é': 1, z: 2, A: 3 }, '{"A":3,"z":2,"é":1}'],
    ['line\n"q"', '"line\\n\\"q\\""'],
  ])('writes case %# canonically', (value, text) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it('is stable under parse and re-serialise', () => {
    const v = { s: 'a\u2028b\ud800', n: [1.5, 1e-7, 123456789012], o: { y: true, x: false } };
    const once = canonicalJson(v);
    expect(canonicalJson(JSON.parse(once))).toBe(once);
  });
});

describe('sealSignal', () => {
  it('puts hash in sorted place and the hash covers the payload without it', () => {
    const box = memoryBox();
    const [s] = box.append([draft()]);
    const [entry] = box.pending(1);
    expect(entry.payload).toBe(canonicalJson(s));
    // The consumer recipe from canonical.ts: the hash covers everything but hash and sig,
    // key_id included; the signature is over the hash.
    const parsed = JSON.parse(entry.payload) as RiskSignal;
    const { hash, sig, ...rest } = parsed;
    expect(rest.key_id).toBe(box.signer.keyId);
    expect(createHash('sha256').update(canonicalJson(rest)).digest('hex')).toBe(hash);
    expect(verify(null, Buffer.from(hash, 'ascii'), createPublicKey(box.signer.info.public_key), Buffer.from(sig!, 'base64'))).toBe(true);
    expect(sealSignal(rest, () => sig!).payload).toBe(entry.payload);
    expect(Object.keys(parsed)).toEqual(Object.keys(parsed).sort());
    box.close();
  });
});

describe('verifyChain', () => {
  function chain(count: number): RiskSignal[] {
    const box = memoryBox();
    const out = box.append(drafts(count));
    box.close();
    return out;
  }

  it('accepts an untouched chain starting at genesis', () => {
    const s = chain(5);
    expect(s[0].prev_hash).toBe(GENESIS_HASH);
    expect(verifyChain(s)).toEqual({ ok: true, problems: [] });
  });

  it('detects a modified event', () => {
    const s = chain(3);
    s[1] = { ...s[1], severity: 'critical' };
    const r = verifyChain(s);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['seq 2: hash does not match the content (event modified).']);
  });

  it('detects a replaced event whose own hash is consistent', () => {
    const s = chain(3);
    const forged = { ...s[1], message: 'nothing to see' };
    forged.hash = hashSignal(forged);
    s[1] = forged;
    expect(verifyChain(s).problems).toEqual(['seq 3: prev_hash does not match the hash of seq 2 (chain broken).']);
  });

  it('detects a missing event that no gap event explains', () => {
    const s = chain(5);
    s.splice(2, 1);
    expect(verifyChain(s).problems).toEqual(['seq 3-3: missing and not reported by an outbox gap event.']);
  });

  it('detects unsorted or duplicate input', () => {
    const s = chain(3);
    expect(verifyChain([s[0], s[1], s[1], s[2]]).problems).toEqual([
      'seq 2: follows seq 2 (not rising; sort by seq and drop duplicates first).',
    ]);
  });
});
