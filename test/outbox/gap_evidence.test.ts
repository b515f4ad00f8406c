// Gap-event evidence under fragmented drops: every dropped seq is named, gap events stay bounded
// in size (large ones are sealed, not folded again on every append), and whatever retention
// drops, sealed gap events included, stays accounted for by a signed gap event.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GAP_RULE, SqliteOutbox } from '../../agent/outbox/index.js';
import { GAP_SEAL_BYTES } from '../../agent/outbox/retention.js';
import type { RiskSignal } from '../../rules/signal.js';
import { verifySignals } from '../../agent/verify/verify.js';
import { knownKey } from '../verify/fixtures.js';
import { bySeverity, roomyLimits, tempDir, testSigner } from './drafts.js';

function open(file: string, max_events: number): SqliteOutbox {
  return SqliteOutbox.open({ file, agent: 'gw-1', site: 'plant-a', limits: { ...roomyLimits, max_events }, signer: testSigner });
}

function held(box: SqliteOutbox): RiskSignal[] {
  return box.pending(1_000_000).map((e) => JSON.parse(e.payload) as RiskSignal);
}

/** Every seq from 1 to the last held one is held or named by a gap event, and it all verifies. */
function expectAccounted(signals: RiskSignal[]): void {
  const r = verifySignals(
    signals.map((signal, i) => ({ line: i + 1, signal })),
    { keys: [knownKey(testSigner)], announced: new Map(), firstSeq: 1 },
  );
  expect(r.agents[0]!.problems).toEqual([]);
  const covered = r.agents[0]!.gaps.reduce((n, g) => n + g.last - g.first + 1, 0);
  expect(covered + signals.length).toBe(signals[signals.length - 1]!.seq);
}

describe('gap events under fragmented drops', () => {
  it('seals large gap events instead of growing one without bound, and every seq stays accounted for', () => {
    // Info and critical interleaved: dropping the info events leaves one range per critical kept.
    const box = open(':memory:', 1000);
    for (let i = 0; i < 400; i++) box.append([...bySeverity('info', 3), ...bySeverity('critical', 1)]);
    const signals = held(box);
    const gaps = signals.filter((s) => s.rule === GAP_RULE);
    const sizes = box.pending(1_000_000).filter((e) => e.payload.includes(GAP_RULE)).map((e) => e.payload.length);
    expect(gaps.length).toBeGreaterThan(1);
    // One gap event holding everything would be well over 40 KiB here.
    expect(Math.max(...sizes)).toBeLessThan(GAP_SEAL_BYTES + 4096);
    expectAccounted(signals);
    box.close();
  });

  it('folds sealed gap events when retention has to drop them, keeping what they reported', () => {
    const file = path.join(tempDir(), 'outbox.sqlite');
    const box = open(file, 1000);
    for (let i = 0; i < 1000; i++) box.append([...bySeverity('info', 3), ...bySeverity('critical', 1)]);
    const sealed = held(box).filter((s) => s.rule === GAP_RULE).length - 1;
    expect(sealed).toBeGreaterThan(1);
    box.close();
    // Limits lowered: everything but one event and the new gap event must go, sealed gap events too.
    const small = open(file, 2);
    const signals = held(small);
    expect(signals.length).toBe(2);
    // The newest gap event took over the dropped ones' evidence (a sealed one may stay, last in the drop order).
    const newest = signals[signals.length - 1]!;
    expect(newest.rule).toBe(GAP_RULE);
    expect((newest.evidence!.replaces as number[]).length).toBeGreaterThan(1);
    expectAccounted(signals);
    small.close();
  });
});
