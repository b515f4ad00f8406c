// The `review` field of a rule (set by learn on rules from unconverged tags): the rule detects as
// usual but signals at info, carrying the reason in evidence.review, until it is approved.
import { describe, expect, it } from 'vitest';
import { validateRules } from '../../rules/validate.js';
import { devices, engine, feed, marks } from './helpers.js';

const range = { id: 'lvl', type: 'range', device: 'tank1', tag: 'level', min: 0, max: 5, severity: 'high' };

describe('rule review state', () => {
  it('raises and clears as usual, at info, with the reason as evidence', () => {
    const e = engine([{ ...range, review: 'level: still widening at the end of 10 min' }]);
    const out = feed(e, 'level', [4, 6, 7, 4]);
    expect(marks(out)).toEqual(['R@1', 'C@3']);
    for (const f of out) expect(f).toMatchObject({ severity: 'info', category: 'anomaly', evidence: { review: 'level: still widening at the end of 10 min' } });
  });

  it('an approved rule (no review) keeps its severity and evidence', () => {
    const [f] = feed(engine([range]), 'level', [6]);
    expect(f.severity).toBe('high');
    expect(f.evidence?.review).toBeUndefined();
  });

  it('review is a non-empty text', () => {
    expect(validateRules([{ ...range, review: '' }], devices).map((i) => i.path)).toEqual(['rules[0].review']);
    expect(validateRules([{ ...range, review: true }], devices).map((i) => i.path)).toEqual(['rules[0].review']);
    expect(validateRules([{ ...range, review: 'why' }], devices)).toEqual([]);
  });
});
