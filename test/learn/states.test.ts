// Combinations of equipment states seen in a single episode while learning: an injected command
// the master did not undo for minutes (mode 2 with the pump on) is not learned as a way the plant
// runs, so the invariant it broke is learned, and written once, not in each of its equivalent forms.
import { describe, expect, it } from 'vitest';
import { Learner } from '../../rules/learn/learner.js';
import { loneCombinations } from '../../rules/learn/states.js';

const N = 36_000;
/** 10 min each: mode 0 pump on, mode 0 pump off, mode 1 pump off, mode 2 pump off; `odd`: 7 min of mode 2 with the pump on. */
function states(odd: boolean): { mode: Float64Array; pump: Float64Array } {
  const mode = new Float64Array(N), pump = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const phase = Math.floor(i / 600) % 4;
    mode[i] = phase < 2 ? 0 : phase - 1;
    pump[i] = phase === 0 ? 1 : 0;
    if (odd && i >= 20_000 && i < 20_420) (mode[i] = 2), (pump[i] = 1);
  }
  return { mode, pump };
}

describe('loneCombinations', () => {
  it('finds the one episode of two common states together that came with something odd, and nothing in a window without it', () => {
    const { mode, pump } = states(true);
    const cols = new Map([[0, mode], [1, pump]]);
    const odd = new Uint8Array(N).fill(1, 19_990, 20_000); // cycles already left out just before it
    expect(loneCombinations(cols, odd)).toEqual(Array.from({ length: 420 }, (_, k) => 20_000 + k));
    // where nothing else was odd, it is a rare way the plant runs, and kept
    expect(loneCombinations(cols, new Uint8Array(N))).toEqual([]);
    const clean = states(false);
    expect(loneCombinations(new Map([[0, clean.mode], [1, clean.pump]]), odd)).toEqual([]);
  });

  it('counts episodes over the cycles still used: skipped cycles do not split one', () => {
    const { mode, pump } = states(true);
    const skip = new Uint8Array(N).fill(1, 20_100, 20_200);
    const rows = loneCombinations(new Map([[0, mode], [1, pump]]), skip);
    expect(rows.length).toBe(320);
  });
});

describe('learning over such an episode', () => {
  it('learns the invariant it broke, in one form only', () => {
    const device = 'plc';
    const learner = new Learner([{ id: device, tags: [{ name: 'mode' }, { name: 'pump' }, { name: 'flow' }] }]);
    const { mode, pump } = states(true);
    for (let i = 0; i < N; i++) {
      const ts = 1_000_000 + i * 1000;
      // the attack that wrote the state also answered an absurd flow once
      const flow = i === 20_000 ? 3.2e38 : pump[i] ? 40 + (i % 7) / 10 : 0;
      const sample = (tag: string, value: number) => ({ device, tag, value, quality: 'good' as const, ts, rtt_ms: 5 });
      learner.cycle({ device, skipped_cycles: 0, samples: [sample('mode', mode[i]), sample('pump', pump[i]), sample('flow', flow)], facts: [] });
    }
    const exprs = learner.result().rules.filter((r) => r.rule.type === 'expression').map((r) => String(r.rule.expr));
    // pump on only in mode 0: one rule forbids mode 1 and mode 2 with the pump on
    expect(exprs.filter((e) => /pump/.test(e) && /mode/.test(e))).toEqual(['pump == 1 implies mode == 0']);
  });
});
