// The one cycle judge (rules/judge): the order a cycle is judged in, its built-in rules (poll
// schedule, loop restart, rule failure), time-based conditions in data time, and no allocation
// for a quiet cycle.
import { describe, expect, it, vi } from 'vitest';
import { AlertManager } from '../../rules/alerts/manager.js';
import { CycleJudge, LOOP_RESTART_RULE, SCHEDULE_RULE, TIME_EVAL_MS, type Cycle } from '../../rules/judge/index.js';
import { RULE_FAILED } from '../../rules/failures.js';
import { rangeType } from '../../rules/range.js';
import type { Detector, Finding } from '../../rules/types.js';
import { devices, engine, link, sample, T0 } from './helpers.js';

function judgeOf(rules: unknown[]): { judge: CycleJudge; findings: Finding[] } {
  const findings: Finding[] = [];
  const judge = new CycleJudge(engine(rules), new AlertManager({}, { devices: devices.map((d) => d.id) }), { onFindings: (fs) => void findings.push(...fs) });
  return { judge, findings };
}

const cycle = (ts: number, o: Partial<Cycle> = {}): Cycle => ({ device: 'tank1', samples: [sample('level', 1, ts)], facts: [link(ts)], skipped_cycles: 0, ...o });

describe('CycleJudge', () => {
  it('judges the link fact last, so a cross-tag rule sees every tag of the cycle', () => {
    const { judge, findings } = judgeOf([{ id: 'x', type: 'expression', device: 'tank1', expr: 'level < 5 and pump == 1' }]);
    // link fact first in the list, pump sample last: the expression is still judged with both
    judge.judge({ device: 'tank1', samples: [sample('level', 1, T0), sample('pump', 1, T0)], facts: [link(T0)], skipped_cycles: 0 });
    expect(findings).toEqual([]);
    judge.judge({ device: 'tank1', samples: [sample('level', 1, T0 + 1000), sample('pump', 0, T0 + 1000)], facts: [link(T0 + 1000)], skipped_cycles: 0 });
    expect(findings.map((f) => [f.rule, f.active])).toEqual([['x', true]]);
  });

  it('ends a cycle without a link fact itself, at the cycle time', () => {
    const { judge, findings } = judgeOf([{ id: 'x', type: 'expression', device: 'tank1', expr: 'level < 5' }]);
    judge.judge({ device: 'tank1', samples: [sample('level', 9, T0)], facts: [], skipped_cycles: 0, ts: T0 + 500 });
    expect(findings.map((f) => [f.rule, f.active, f.ts])).toEqual([['x', true, T0 + 500]]);
    expect(judge.time).toBe(T0 + 500);
  });

  it('raises the schedule signal while cycles overrun their slots and clears it on the first on time', () => {
    const { judge } = judgeOf([]);
    expect(judge.judge(cycle(T0))).toEqual([]);
    const late = judge.judge(cycle(T0 + 1000, { skipped_cycles: 2 }));
    expect(late.map((d) => [d.rule, d.state, d.severity, d.category, d.observed])).toEqual([[SCHEDULE_RULE, 'raised', 'low', 'availability', { skipped_cycles: 2 }]]);
    expect(judge.judge(cycle(T0 + 2000, { skipped_cycles: 1 }))).toEqual([]);
    expect(judge.judge(cycle(T0 + 3000)).map((d) => [d.rule, d.state])).toEqual([[SCHEDULE_RULE, 'cleared']]);
  });

  it('raises a loop restart without ending a cycle in the engine, and clears it with the next poll', () => {
    const { judge, findings } = judgeOf([{ id: 'x', type: 'expression', device: 'tank1', expr: 'level < 5' }]);
    judge.judge({ device: 'tank1', samples: [sample('level', 9, T0)], facts: [], skipped_cycles: 0, loop_restart: { ts: T0 + 10, restarts: 1, error: 'TypeError: boom', restart_in_ms: 500 } });
    expect(findings.map((f) => [f.rule, f.active, f.ts])).toEqual([[LOOP_RESTART_RULE, true, T0 + 10]]);
    judge.judge(cycle(T0 + 1000, { samples: [sample('level', 1, T0 + 1000)] }));
    expect(findings.slice(1).map((f) => [f.rule, f.active])).toEqual([[LOOP_RESTART_RULE, false]]);
  });

  it('evaluates time-based conditions at most every TIME_EVAL_MS of data time', () => {
    const { judge, findings } = judgeOf([{ id: 'r', type: 'rate', device: 'tank1', tag: 'level', max_per_s: 1, hold_ms: 2000 }]);
    judge.judge(cycle(T0));
    judge.judge(cycle(T0 + 100, { samples: [sample('level', 50, T0 + 100)] }));
    expect(findings.map((f) => f.active)).toEqual([true]);
    // no new violation: the hold ends by time alone, seen on the first evaluation after it
    for (let t = T0 + 200; t <= T0 + 2100 + TIME_EVAL_MS; t += 100) judge.judge({ device: 'tank1', samples: [], facts: [link(t)], skipped_cycles: 0 });
    expect(findings.map((f) => f.active)).toEqual([true, false]);
    expect(findings[1].ts - (T0 + 2100)).toBeLessThan(TIME_EVAL_MS);
  });

  it('turns a rule that throws into otsentry.rule_failed and hands the failure over', () => {
    const create = rangeType.create;
    const spy = vi.spyOn(rangeType, 'create').mockImplementation((rule, ctx) =>
      Object.assign(Object.create(create(rule, ctx)) as Detector, {
        onSample: () => {
          throw new RangeError('bad input');
        },
      }),
    );
    const failures: string[] = [];
    const judge = new CycleJudge(engine([{ id: 'r', type: 'range', device: 'tank1', tag: 'level', max: 5 }]), new AlertManager(), { onFailure: (f) => failures.push(f.state) });
    spy.mockRestore();
    const drafts = judge.judge(cycle(T0));
    expect(failures).toEqual(['suspended']);
    expect(drafts.map((d) => [d.rule, d.state, d.evidence?.condition])).toEqual([[RULE_FAILED, 'raised', 'r']]);
  });

  it('returns one shared empty array for a quiet cycle', () => {
    const { judge } = judgeOf([{ id: 'r', type: 'range', device: 'tank1', tag: 'level', max: 5 }]);
    const a = judge.judge(cycle(T0));
    const b = judge.judge(cycle(T0 + 1000));
    expect(a).toEqual([]);
    expect(b).toBe(a);
    expect(judge.counts).toEqual({ cycles: 2, samples: 2, findings: 0, drafts: 0 });
  });
});
