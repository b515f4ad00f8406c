// What approving an alert changes per detector (pure): widen, allow, accept, take out of review;
// the changes compose over the written rule and are dropped again when an approval expires.
import { describe, expect, it } from 'vitest';
import { proposeChanges } from '../../agent/approve/changes.js';
import { acceptState } from '../../agent/approve/expr.js';
import { applyChanges } from '../../agent/approve/patch.js';

describe('approval changes', () => {
  it('widens a range to the observed value (one unit in the seventh digit beyond) and takes the rule out of review', () => {
    const rule = { id: 'r', type: 'range', device: 'p', tag: 'flow', min: 0.5, max: 12.3, review: 'still widening' };
    const p = proposeChanges(rule, [{ rule: 'r', device: 'p', tag: 'flow', observed: 12.9 }]);
    const after = applyChanges(rule, p.changes);
    expect(after.max).toBe(12.90001);
    expect(after.min).toBe(0.5);
    expect(after).not.toHaveProperty('review');
    expect(p.silences).toBe(false);
  });

  it('allows an observed value, accepts an integrity value and an identity', () => {
    const av = { id: 'm', type: 'allowed_values', device: 'p', tag: 'mode', values: [0, 1] };
    expect(applyChanges(av, proposeChanges(av, [{ rule: 'm', device: 'p', tag: 'mode', observed: 2 }]).changes).values).toEqual([0, 1, 2]);
    const ig = { id: 'i', type: 'integrity', device: 'p', baseline: { sp: 40 } };
    expect(applyChanges(ig, proposeChanges(ig, [{ rule: 'i', device: 'p', tag: 'sp', observed: 45 }]).changes).baseline).toEqual({ sp: 45 });
    const id = { id: 'd', type: 'identity', device: 'p', expected: { vendor: 'A', revision: '1.0' } };
    expect(applyChanges(id, proposeChanges(id, [{ rule: 'd', device: 'p', observed: { vendor: 'A', revision: '1.1' } }]).changes).expected).toEqual({ vendor: 'A', revision: '1.1' });
  });

  it('a stuck value has no baseline to change: the approval only silences (and needs --for)', () => {
    const st = { id: 's', type: 'stuck', device: 'p', tags: ['a', 'b'] };
    const p = proposeChanges(st, [{ rule: 's', device: 'p', tag: 'a', observed: 3 }]);
    expect(p.silences).toBe(true);
    expect(applyChanges(st, p.changes).tags).toEqual(['b']);
  });

  it('two approvals of one list compose; dropping one keeps the other', () => {
    const av = { id: 'm', type: 'allowed_values', device: 'p', tag: 'mode', values: [0, 1] };
    const a = proposeChanges(av, [{ rule: 'm', device: 'p', tag: 'mode', observed: 2 }]).changes;
    const b = proposeChanges(av, [{ rule: 'm', device: 'p', tag: 'mode', observed: 3 }]).changes;
    expect(applyChanges(av, [...a, ...b]).values).toEqual([0, 1, 2, 3]);
    expect(applyChanges(av, b).values).toEqual([0, 1, 3]);
  });

  it('accepts a new invariant state by widening the conclusion learn wrote, else exactly that state', () => {
    expect(acceptState('pump == 0 implies flow <= 0.5', { pump: 0, flow: 1.25 })).toEqual({ expr: 'pump == 0 implies flow <= 1.250001', how: 'widened' });
    expect(acceptState('mode == 2 implies scheme == 1', { mode: 2, scheme: 3 }).expr).toBe('mode == 2 implies scheme == 1 or scheme == 3');
    expect(acceptState('abs(a - b) < 2', { a: 5, b: 1 })).toEqual({ expr: '(abs(a - b) < 2) or (a == 5 and b == 1)', how: 'exact_state' });
  });
});
