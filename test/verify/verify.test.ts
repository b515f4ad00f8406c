// The verifier's verdicts on real outbox chains: untouched, edited, forged, reordered, removed,
// duplicated, retention gaps (covered, folded, uncovered), wrong keys, and v1 signals.
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ephemeralSigner } from '../../agent/signing/keys.js';
import { GAP_RULE } from '../../agent/outbox/index.js';
import type { RiskSignal } from '../../rules/signal.js';
import { bySeverity, drafts, tempDir } from '../outbox/drafts.js';
import { agentKey, knownKey, pendingSignals, problemsOf, reseal, signedChain, tightBox, v1Chain, verify } from './fixtures.js';

describe('verifySignals on a signed chain', () => {
  it('verifies an untouched chain: every hash, link and signature', () => {
    const r = verify(signedChain(5));
    expect(r.ok).toBe(true);
    expect(r.agents).toHaveLength(1);
    expect(r.agents[0]).toMatchObject({ site: 'plant-a', agent: 'gw-1', received: 5, unique: 5, first_seq: 1, last_seq: 5, hashes_ok: 5, links_ok: 5, signatures_ok: 5, unsigned: 0, duplicates: 0, gaps: [] });
  });

  it('names the seq of an edited event (hash no longer matches)', () => {
    const s = signedChain(4);
    s[2] = { ...s[2]!, severity: 'critical' };
    const r = verify(s);
    expect(r.ok).toBe(false);
    expect(problemsOf(r)).toEqual(['edited 3']);
  });

  it('names a forged event that was re-hashed but cannot be re-signed', () => {
    const s = signedChain(4);
    s[1] = reseal({ ...s[1]!, message: 'all quiet' });
    // The forger keeps the old signature and does not know the key; the next link breaks too.
    expect(problemsOf(verify(s))).toEqual(['forged 2', 'chain_broken 3']);
  });

  it('names an event signed by another key that claims the agent key id', () => {
    const s = signedChain(3);
    const other = ephemeralSigner();
    const forged = reseal({ ...s[2]!, message: 'all quiet' }, other);
    s[2] = { ...forged, key_id: agentKey.keyId };
    // key_id is covered by the hash, so changing it back breaks the hash.
    expect(problemsOf(verify(s))).toEqual(['edited 3']);
    s[2] = reseal({ ...forged, key_id: agentKey.keyId }, undefined);
    s[2] = { ...s[2], sig: forged.sig };
    expect(problemsOf(verify(s))).toEqual(['forged 3']);
  });

  it('reports a wrong --key as signatures by an unknown key', () => {
    const r = verify(signedChain(2), { keys: [knownKey(ephemeralSigner())] });
    expect(problemsOf(r)).toEqual(['unknown_key 1', 'unknown_key 2']);
    expect(r.agents[0]!.signatures_ok).toBe(0);
  });

  it('reports that signatures were not checked when no key is known', () => {
    const r = verify(signedChain(2), { keys: [] });
    expect(problemsOf(r)).toEqual(['no_key 1']);
  });

  it('uses the key the capture announces, and flags two announced keys', () => {
    const announced = new Map([['plant-a/gw-1', [knownKey(agentKey, 'status line 1')]]]);
    const ok = verify(signedChain(2), { keys: [], announced });
    expect(ok.ok).toBe(true);
    expect(ok.agents[0]!.keys).toEqual([{ key_id: agentKey.keyId, source: 'status line 1' }]);
    const two = new Map([['plant-a/gw-1', [knownKey(agentKey, 'status line 1'), knownKey(ephemeralSigner(), 'status line 9')]]]);
    expect(problemsOf(verify(signedChain(2), { keys: [], announced: two }))).toEqual(['key_changed -']);
  });

  it('accepts arrival out of seq order (counted), but not swapped seqs', () => {
    const s = signedChain(4);
    const arrival = [s[0]!, s[2]!, s[1]!, s[3]!];
    const r = verify(arrival);
    expect(r.ok).toBe(true);
    expect(r.agents[0]!.out_of_order).toBe(1);
    const swapped = [s[0]!, { ...s[2]!, seq: 2 }, { ...s[1]!, seq: 3 }, s[3]!];
    expect(problemsOf(verify(swapped))).toEqual(['edited 2', 'edited 3', 'chain_broken 2', 'chain_broken 3', 'chain_broken 4']);
  });

  it('names removed seqs that no gap event reports', () => {
    const s = signedChain(6);
    const r = verify([s[0]!, s[1]!, s[4]!, s[5]!]);
    expect(problemsOf(r)).toEqual(['missing 3']);
    expect(r.agents[0]!.problems[0]!.message).toContain('seq 3-4: missing');
    expect(r.agents[0]!.gaps).toEqual([{ first: 3, last: 4 }]);
  });

  it('counts duplicates (same signal again) without complaint', () => {
    const s = signedChain(3);
    const r = verify([s[0]!, s[1]!, s[1]!, s[2]!, s[0]!]);
    expect(r.ok).toBe(true);
    expect(r.agents[0]).toMatchObject({ received: 5, unique: 3, duplicates: 2 });
  });

  it('flags a second, different signal for a seq and keeps the authentic one', () => {
    const s = signedChain(3);
    const edited = { ...s[1]!, message: 'edited copy' };
    const r = verify([s[0]!, edited, s[1]!, s[2]!]);
    expect(problemsOf(r)).toEqual(['edited 2']);
    expect(r.agents[0]!.problems[0]!.line).toBe(2);
    expect(r.agents[0]).toMatchObject({ hashes_ok: 3, links_ok: 3, signatures_ok: 3 });
  });

  it('flags two validly signed signals for one seq as a forked chain', () => {
    const a = signedChain(2);
    const b = signedChain(2);
    expect(problemsOf(verify([...a, b[1]!]))).toEqual(['seq_conflict 2']);
  });

  it('requires seqs from --first-seq and up to --last-seq', () => {
    const s = signedChain(5);
    expect(problemsOf(verify(s.slice(2), { firstSeq: 1 }))).toEqual(['missing 1']);
    expect(verify(s.slice(2)).ok).toBe(true);
    expect(problemsOf(verify(s, { lastSeq: 7 }))).toEqual(['missing 6']);
  });
});

describe('verifySignals across retention gaps', () => {
  function gapOf(signals: RiskSignal[]): RiskSignal {
    return signals.filter((s) => s.rule === GAP_RULE).at(-1)!;
  }

  it('accepts seqs reported dropped and checks each link across the gap', () => {
    const box = tightBox({ max_events: 10 });
    box.append([...bySeverity('info', 6), ...bySeverity('high', 2)]);
    box.append(bySeverity('high', 6));
    const held = pendingSignals(box);
    const gap = gapOf(held);
    expect(gap.evidence).toMatchObject({ dropped_seqs: [[1, 5]], dropped_hashes: { '5': expect.any(String) } });
    const r = verify(held);
    expect(r.ok).toBe(true);
    expect(r.agents[0]!.gaps).toEqual([{ first: 1, last: 5, covered_by: gap.seq }]);
    // seq 6 chains to the dropped seq 5 through the gap event's recorded hash; 6..end link directly.
    expect(r.agents[0]!.links_ok).toBe(held.length);
    box.close();
  });

  it('keeps the evidence of folded gap events (several passes, nothing delivered)', () => {
    const box = tightBox({ max_events: 6 });
    for (let i = 0; i < 30; i++) box.append(i % 5 === 0 ? bySeverity('high', 1) : bySeverity('info', 1));
    const held = pendingSignals(box);
    const gaps = held.filter((s) => s.rule === GAP_RULE);
    expect(gaps).toHaveLength(1);
    expect((gaps[0]!.evidence!.replaces as number[]).length).toBeGreaterThan(0);
    const r = verify(held);
    expect(r.ok).toBe(true);
    // Every seq up to the gap event is received or reported dropped.
    const listed = (gaps[0]!.evidence!.dropped_seqs as Array<[number, number]>).reduce((n, [a, b]) => n + b - a + 1, 0);
    expect(listed + held.length).toBe(gaps[0]!.seq);
    box.close();
  });

  it('checks the link to a dropped event whose successor was delivered before', () => {
    const box = tightBox({ max_events: 5 });
    const first = box.append([...bySeverity('high', 1), ...bySeverity('info', 1), ...bySeverity('high', 1)]);
    box.ack([1, 3]); // delivered; seq 2 stays pending (e.g. refused) until retention drops it
    box.append(bySeverity('critical', 5));
    const held = pendingSignals(box);
    expect(gapOf(held).evidence).toMatchObject({ dropped_seqs: [[2, 2], [4, 4]], dropped_hashes: { '2': first[1]!.hash } });
    const r = verify([first[0]!, first[2]!, ...held]);
    expect(r.ok).toBe(true);
    // genesis, 3 and 5 across the gaps (recorded hashes of 2 and 4), then the held ones directly
    expect(r.agents[0]!.links_ok).toBe(held.length + 2);
    box.close();
  });

  it('names seqs missing when the gap event itself is removed', () => {
    const box = tightBox({ max_events: 10 });
    box.append([...bySeverity('info', 6), ...bySeverity('high', 2)]);
    box.append(bySeverity('high', 6));
    const held = pendingSignals(box);
    const gap = gapOf(held);
    expect(problemsOf(verify(held.filter((s) => s !== gap), { firstSeq: 1 }))).toEqual(['missing 1']);
    expect(problemsOf(verify(held.filter((s) => s !== gap), { lastSeq: gap.seq }))).toEqual([`missing ${gap.seq}`]);
    box.close();
  });

  it('does not let an edited or unsigned gap event cover anything', () => {
    const box = tightBox({ max_events: 10 });
    box.append([...bySeverity('info', 6), ...bySeverity('high', 2)]);
    box.append(bySeverity('high', 6));
    const held = pendingSignals(box);
    const i = held.findIndex((s) => s.rule === GAP_RULE);
    const widened = { ...held[i]!, evidence: { ...held[i]!.evidence, dropped_seqs: [[1, 9]] } };
    const r = verify(held.map((s, j) => (j === i ? reseal(widened) : s)), { firstSeq: 1 });
    expect(problemsOf(r)).toContain('forged ' + held[i]!.seq);
    expect(problemsOf(r)).toContain('missing 1');
    box.close();
  });

  it('flags a link across a gap that does not match the recorded hash', () => {
    const box = tightBox({ max_events: 10 });
    box.append([...bySeverity('info', 6), ...bySeverity('high', 2)]);
    box.append(bySeverity('high', 6));
    const held = pendingSignals(box);
    // Even with the agent's key (stolen), a rewritten range-end hash breaks the kept event's link.
    const i = held.findIndex((s) => s.rule === GAP_RULE);
    const lying = { ...held[i]!, evidence: { ...held[i]!.evidence, dropped_hashes: { '5': 'f'.repeat(64) } } };
    const r = verify(held.map((s, j) => (j === i ? reseal(lying, agentKey) : s)));
    expect(problemsOf(r)).toContain('chain_broken 6');
    box.close();
  });
});

describe('verifySignals on v1 signals', () => {
  it('verifies hash and chain of v1 signals and reports them unsigned', () => {
    const r = verify(v1Chain(drafts(4)));
    expect(r.ok).toBe(true);
    expect(r.agents[0]).toMatchObject({ hashes_ok: 4, links_ok: 4, unsigned: 4, signatures_ok: 0 });
  });

  it('still finds edits and gaps in v1 signals', () => {
    const s = v1Chain(drafts(5));
    s[1] = { ...s[1]!, score: 99 };
    expect(problemsOf(verify([s[0]!, s[1]!, s[2]!, s[4]!]))).toEqual(['edited 2', 'missing 4']);
  });

  it('accepts an upgrade from v1 to v2 in one chain, but not a v1 signal after signed ones', () => {
    const old = v1Chain(drafts(2));
    // An outbox an old agent left behind: its chain ends at the last v1 event and has no key yet.
    const file = path.join(tempDir(), 'outbox.sqlite');
    tightBox({}, agentKey, file).close();
    const db = new Database(file);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', '2')").run();
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_hash', ?)").run(old[1]!.hash);
    db.prepare("DELETE FROM meta WHERE key = 'key_id'").run();
    db.close();
    const box = tightBox({}, agentKey, file);
    const signed = box.append(drafts(2));
    box.close();
    expect(signed.map((s) => [s.v, s.seq])).toEqual([[2, 3], [2, 4]]);
    expect(verify([...old, ...signed]).ok).toBe(true);
    // A forger without the key replaces seq 4 with an unsigned v1 event that chains correctly.
    const downgrade = v1Chain(drafts(1), { seq: 3, hash: signed[0]!.hash })[0]!;
    expect(problemsOf(verify([...old, signed[0]!, downgrade]))).toEqual(['unsigned 4']);
    // Replacing the first signed one instead breaks the next link.
    const early = v1Chain(drafts(1), { seq: 2, hash: old[1]!.hash })[0]!;
    expect(problemsOf(verify([...old, early, signed[1]!]))).toEqual(['chain_broken 4']);
    expect(problemsOf(verify(old, { requireSigned: true }))).toEqual(['unsigned 1', 'unsigned 2']);
  });
});
