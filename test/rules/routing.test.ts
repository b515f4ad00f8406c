// The engine routes each sample to the detectors of its device and tag. It predicts both from the
// previous sample (pollers read in a fixed order); the prediction must never route a sample wrongly
// when the order changes, devices interleave (replays) or a sample names an unknown tag or device.
import { describe, expect, it } from 'vitest';
import { engine, marks, sample, T0 } from './helpers.js';
import type { Finding } from '../../rules/types.js';

const rules = [
  { id: 'lvl', type: 'range', device: 'tank1', tag: 'level', max: 5 },
  { id: 'tmp', type: 'range', device: 'tank1', tag: 'temp', max: 50 },
  { id: 'lvl2', type: 'range', device: 'tank2', tag: 'level', max: 5 },
];

describe('sample routing', () => {
  it('routes by device and tag whatever the order, interleaving or unknown names', () => {
    const e = engine(rules);
    const out: Finding[] = [];
    const feed = (tag: string, value: number, i: number, device = 'tank1') => out.push(...e.onSample(sample(tag, value, T0 + i * 1000, device)));
    // Two cycles in one order teach the prediction; then the order changes and devices interleave.
    for (let i = 0; i < 2; i++) {
      feed('level', 1, i);
      feed('temp', 20, i);
      feed('pump', 1, i);
    }
    feed('temp', 60, 2); // temp first now: predicted level, is temp
    feed('level', 1, 2);
    feed('level', 9, 3, 'tank2'); // another device between two of tank1's samples
    feed('level', 7, 3); // tank1's level again, after tank2's
    feed('nope', 99, 4); // unknown tag, then unknown device: ignored
    feed('level', 99, 4, 'plc9');
    feed('temp', 20, 5); // routed to temp (the failed lookups left the prediction intact)
    feed('level', 2, 5, 'tank2');
    expect(marks(out).map((m, k) => `${out[k].rule}:${m}`)).toEqual(['tmp:R@2:temp', 'lvl2:R@3', 'lvl:R@3', 'tmp:C@5:temp', 'lvl2:C@5']);
    expect(e.stats().samples).toBe(12);
  });
});
