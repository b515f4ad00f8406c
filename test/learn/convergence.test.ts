// The convergence verdict on synthetic series: a converged sine, a ramp still widening, a cycle
// slower than the window, a step change, noise, discrete values still new; the same verdicts from
// a long series (buckets merged) as from a short one; review marking and the --until-stable watch.
import { describe, expect, it } from 'vitest';
import { EnvelopeTracker } from '../../rules/learn/envelope.js';
import { convergenceComment, judgeEnvelope, markReview, roundUpDuration, ruleTags, StableWatch, type TagVerdict } from '../../rules/learn/convergence.js';
import { Learner } from '../../rules/learn/learner.js';
import { createRng } from '../../simulators/modbus/rng.js';

const T0 = Date.parse('2025-05-01T00:00:00Z');
const MIN = 60_000;

/** A deterministic standard normal stream (the simulators' seeded generator). */
function gauss(seed: number): () => number {
  const r = createRng(seed);
  return () => r.gauss();
}

/** n samples every dtMs of f(t in ms since start) plus gaussian noise of sd. */
function track(n: number, dtMs: number, f: (t: number) => number, sd = 0, seed = 1): EnvelopeTracker {
  const g = gauss(seed);
  const e = new EnvelopeTracker();
  for (let i = 0; i < n; i++) e.add(f(i * dtMs) + sd * g(), T0 + i * dtMs);
  return e;
}

const judge = (e: EnvelopeTracker, kind: 'continuous' | 'discrete' = 'continuous', tol = 0.01) => judgeEnvelope(e, kind, tol, 30);
const sine = (periodMs: number, amp = 1, phase = 0) => (t: number) => 10 + amp * Math.sin((2 * Math.PI * t) / periodMs + phase);

describe('convergence verdict', () => {
  it('a sine seen over five periods has converged', () => {
    const v = judge(track(600, 1000, sine(2 * MIN), 0.02));
    expect(v).toMatchObject({ verdict: 'converged', converged: true, window_ms: 599_000 });
    expect(v.periods).toBeGreaterThanOrEqual(4.5);
    expect(v.text).toBe('converged over 10 min (5 periods of its main variation; no new extreme in the last 2 min)');
  });

  it('a ramp is still widening at the end, and the advice grows with the window', () => {
    const v = judge(track(600, 1000, (t) => 2 + t / MIN, 0.01));
    expect(v).toMatchObject({ verdict: 'widening', converged: false });
    expect(v.text).toMatch(/^still widening at the end of 10 min \(new highs in the last 2 min: max \d+(\.\d+)? -> \d+(\.\d+)?\); learn for at least 1 h, or approve its range by hand$/);
    // Seen over a tenth of the time, the same ramp gets a tenth of the advice (6 min: 10 rounded up).
    expect(judge(track(60, 1000, (t) => 2 + t / 6000, 0.01)).learn_ms).toBe(10 * MIN);
    // Falling: new lows.
    expect(judge(track(600, 1000, (t) => 20 - t / MIN)).text).toMatch(/new lows in the last 2 min: min /);
  });

  it('a cycle slower than the window: too few periods, even when the end sets no new extreme', () => {
    // 0.4 of a period: up to the peak at 60% of the window and back down, ending above the start.
    const v = judge(track(600, 1000, sine(25 * MIN, 1, 0.02 * Math.PI), 0.01));
    expect(v).toMatchObject({ verdict: 'slow_cycle', converged: false, periods: 0.5 });
    expect(v.text).toBe('a cycle slower than the window: half a period of its main variation in 10 min; learn for at least 1 h (3 periods), or approve its range by hand');
    // 1.5 periods in the window.
    const w = judge(track(600, 1000, sine(6.67 * MIN, 1, 0.3), 0.01));
    expect(w).toMatchObject({ verdict: 'slow_cycle', periods: 1.5 });
    expect(w.text).toBe('only 1.5 periods of its main variation in 10 min; learn for at least 20 min (3 periods), or approve its range by hand');
  });

  it('a step to a new level in the middle of the window: one change, not a cycle', () => {
    const v = judge(track(600, 1000, (t) => (t < 6 * MIN ? 10 : 20), 0.1));
    expect(v).toMatchObject({ verdict: 'step', converged: false });
    expect(v.text).toBe('moved once to a new level (about 10 -> 20 at 2025-05-01T00:06:00Z) and stayed there over 10 min; learn across more changes of operation (at least 1 h), or approve its range by hand');
    // Down, too.
    expect(judge(track(600, 1000, (t) => (t < 5 * MIN ? 20 : 10), 0.1)).text).toContain('(about 20 -> 10 at 2025-05-01T00:05:00Z)');
    // A step in the last part of the window is the envelope widening.
    expect(judge(track(600, 1000, (t) => (t < 9 * MIN ? 10 : 20), 0.1)).verdict).toBe('widening');
  });

  it('noise about a steady level converges with enough samples to know its extremes', () => {
    // 600 samples: 1 in about 300 new ones would fall outside their extremes.
    expect(judge(track(600, 1000, () => 5, 0.3))).toMatchObject({
      verdict: 'noise',
      converged: false,
      learn_ms: 20 * MIN,
      text: 'varies like noise about a steady level, and 600 samples are too few to know its extremes (about 1 in 301 new ones falls outside them); learn for at least 20 min (1000 samples), or approve its range by hand',
    });
    expect(judge(track(1200, 500, () => 5, 0.3)).text).toBe('converged over 10 min (varies quickly about a steady level; 1200 samples, no new extreme in the last 2 min)');
    // Two outliers early in the window widen the span but are no cycle and no trend.
    expect(judge(track(1200, 500, (t) => (t === 100_000 || t === 250_000 ? 9 : 5), 0.3)).verdict).toBe('converged');
  });

  it('a signal within its tolerance has converged', () => {
    expect(judge(track(600, 1000, () => 5, 0.001), 'continuous', 0.05).text).toBe('converged over 10 min (stays within its tolerance)');
    // A fast cycle on top of noise, with more samples than buckets.
    const fast = judge(track(20_000, 100, sine(7000), 0.1));
    expect(fast).toMatchObject({ verdict: 'converged', converged: true });
  });

  it('the same verdicts from a day of samples (buckets merged many times) as from few', () => {
    const day = 86_400_000;
    expect(judge(track(86_400, 1000, sine(day / 6), 0.02)).verdict).toBe('converged');
    expect(judge(track(86_400, 1000, (t) => t / day, 0.01)).learn_ms).toBe(7 * day);
    expect(judge(track(86_400, 1000, sine(3 * day, 1, 0.1), 0.01)).verdict).toBe('slow_cycle');
    expect(judge(track(86_400, 1000, (t) => (t < day / 2 ? 1 : 2), 0.01)).verdict).toBe('step');
  });

  it('discrete tags: new values in the last part of the window are not converged', () => {
    const late = track(600, 1000, (t) => (t < 9.5 * MIN ? Math.floor(t / 20_000) % 2 : 2));
    expect(judge(late, 'discrete')).toMatchObject({ verdict: 'new_values', converged: false, learn_ms: 20 * MIN });
    expect(judge(late, 'discrete').text).toBe('new values still appearing at the end of 10 min (2 first seen in the last 2 min); learn for at least 20 min, or approve its values by hand');
    expect(judge(track(600, 1000, (t) => Math.floor(t / 20_000) % 3), 'discrete')).toMatchObject({ verdict: 'converged', text: 'converged over 10 min (every value seen before the last 2 min)' });
  });

  it('too few samples, constants, counters', () => {
    expect(judge(track(12, 1000, () => 1))).toMatchObject({ verdict: 'too_few', converged: false, text: 'only 12 good samples (fewer than 30): no rule yet; learn longer' });
    expect(judgeEnvelope(track(100, 1000, () => 1), 'constant', 0, 30)).toMatchObject({ verdict: 'converged', text: 'converged: constant over 99 s' });
    expect(judgeEnvelope(track(100, 1000, (t) => t), 'counter', 0, 30)).toMatchObject({ verdict: 'not_judged', converged: true });
  });

  it('advice is rounded up to a figure people use', () => {
    expect([1, 1001, 61_000, 3_600_001, 5 * 86_400_000].map(roundUpDuration)).toEqual([1000, 2000, 2 * MIN, 2 * 3_600_000, 7 * 86_400_000]);
  });
});

describe('the learner judges every tag and rules of unconverged tags go into review', () => {
  const devices = [{ id: 'plc', tags: [{ name: 'flow_out' }, { name: 'temp' }, { name: 'pump' }] }];
  function learn(minutes: number) {
    const l = new Learner(devices);
    const g = gauss(3);
    for (let i = 0; i < minutes * 60; i++) {
      const ts = T0 + i * 1000;
      const samples = [
        { device: 'plc', tag: 'flow_out', value: 3 + i / 300 + 0.01 * g(), quality: 'good' as const, ts, rtt_ms: 1 },
        { device: 'plc', tag: 'temp', value: 20 + Math.sin(i / 20) + 0.02 * g(), quality: 'good' as const, ts, rtt_ms: 1 },
        { device: 'plc', tag: 'pump', value: Math.floor(i / 30) % 2, quality: 'good' as const, ts, rtt_ms: 1 },
      ];
      l.cycle({ device: 'plc', samples, facts: [{ device: 'plc', kind: 'link', ts, data: { ok: true, rtt_ms: 1 } }], skipped_cycles: 0 });
    }
    return l.result();
  }

  it('says per tag, marks the rules that read an unconverged tag, and writes the verdicts', () => {
    const r = learn(10);
    const by = Object.fromEntries(r.convergence.map((v) => [v.tag, v.verdict]));
    expect(by).toEqual({ flow_out: 'widening', temp: 'converged', pump: 'converged' });
    const ids = markReview(r.rules, r.convergence);
    expect(ids).toEqual(expect.arrayContaining(['plc.flow_out.range', 'plc.flow_out.rate']));
    expect(ids.some((id) => id.startsWith('plc.temp.'))).toBe(false);
    const range = r.rules.find((x) => x.rule.id === 'plc.flow_out.range')!;
    expect(range.rule.review).toMatch(/^flow_out: still widening at the end of 10 min \(new highs in the last 2 min: .*\); learn for at least 1 h, or approve its range by hand$/);
    expect(range.evidence.at(-1)).toBe('in review (a tag it reads had not converged): signals at info until approved with `otsentry approve --config FILE plc.flow_out.range`');
    // Every rule that reads flow_out (an invariant or model naming it, too) is in review.
    for (const x of r.rules) expect(x.rule.review !== undefined).toBe(ruleTags(x.rule).includes('flow_out'));
    const comment = convergenceComment(r.convergence);
    expect(comment[0]).toBe("# Convergence of each tag's envelope: 2 of 3 converged; rules that use the others carry `review` (they signal at info until `otsentry approve`).");
    expect(comment[1]).toMatch(/^# {3}plc\/flow_out: still widening/);
  });

  it('judges what the rules were learned from: odd values late in the window do not make an envelope grow', () => {
    const l = new Learner([{ id: 'plc', tags: [{ name: 'temp' }, { name: 'gain' }] }]);
    const g = gauss(5);
    const n = 4 * 3600;
    for (let i = 0; i < n; i++) {
      const ts = T0 + i * 1000;
      // in the last part, now and then an absurd reading and a gain no operator enters
      const late = i > 0.9 * n && i % 300 < 3;
      const samples = [
        { device: 'plc', tag: 'temp', value: late ? 3.2e38 : 20 + Math.sin(i / 600) + 0.02 * g(), quality: 'good' as const, ts, rtt_ms: 1 },
        { device: 'plc', tag: 'gain', value: late ? 66 : 110 + (Math.floor(i / 1200) % 5), quality: 'good' as const, ts, rtt_ms: 1 },
      ];
      l.cycle({ device: 'plc', samples, facts: [{ device: 'plc', kind: 'link', ts, data: { ok: true, rtt_ms: 1 } }], skipped_cycles: 0 });
    }
    // while streaming (progress, --until-stable) every sample counts: both look unconverged
    expect(l.convergence().map((v) => [v.tag, v.verdict])).toEqual([['temp', 'widening'], ['gain', 'new_values']]);
    const r = l.result();
    const by = Object.fromEntries(r.convergence.map((v) => [v.tag, v]));
    expect(by.temp.verdict).toBe('converged');
    expect(by.temp.text).toMatch(/; \d+ samples left out as odd not counted$/);
    expect(by.gain.verdict).toBe('converged');
    expect(markReview(r.rules, r.convergence)).toEqual([]);
  });

  it('ruleTags reads tags from every rule shape learn writes', () => {
    expect(ruleTags({ tag: 'a' })).toEqual(['a']);
    expect(ruleTags({ target: 'y', terms: [{ tag: 'x1', coef: 1 }, { tag: 'x2', coef: 2, lag: 1 }] })).toEqual(['y', 'x1', 'x2']);
    expect(ruleTags({ target: 'f', terms: [{ tag: 's1', coef: 50 }, { tag: 's2', times: 's1', coef: -14 }] })).toEqual(['f', 's1', 's2']);
    expect(ruleTags({ expr: 'pump == 0 implies `flow out` <= 1.3' }).sort()).toEqual(['flow out', 'pump']);
    expect(ruleTags({ type: 'availability' })).toEqual([]);
  });
});

describe('--until-stable watch', () => {
  const verdict = (converged: boolean): TagVerdict => ({ device: 'd', tag: 't', kind: 'continuous', verdict: converged ? 'converged' : 'widening', converged, window_ms: 0, text: '' });

  it('stops at the first judgement where every tag converged, at most once a second of data', () => {
    let judged = 0;
    const w = new StableWatch(3_600_000, () => [verdict(++judged >= 4)]);
    const states: string[] = [];
    for (let t = 0; t <= 10_000; t += 250) {
      const s = w.observe(T0 + t);
      states.push(s);
      if (s !== 'learning') break;
    }
    expect(states.at(-1)).toBe('stable');
    expect(judged).toBe(4);
    expect(w.afterMs).toBe(3000);
  });

  it('ends at MAX when a tag never converges, and waits for ready()', () => {
    const w = new StableWatch(5000, () => [verdict(false)]);
    let s = 'learning', t = 0;
    for (; s === 'learning'; t += 100) s = w.observe(T0 + t);
    expect(s).toBe('max');
    expect(w.afterMs).toBe(5000);
    let ready = false;
    const r = new StableWatch(60_000, () => [verdict(true)], () => ready);
    expect(r.observe(T0)).toBe('learning');
    ready = true;
    expect(r.observe(T0 + 999)).toBe('learning');
    expect(r.observe(T0 + 1000)).toBe('stable');
    // Nothing judged yet (no device answered): not stable.
    expect(new StableWatch(60_000, () => []).observe(T0)).toBe('learning');
  });
});
