// Progress of `otsentry learn`: one line rewritten in place on a terminal (cleared at the end),
// plain lines elsewhere, how often by default, the line's content with an ETA, and the throttle
// that keeps counting rules so far cheap. Timers are fake: no waiting.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProgressLine, progressEvery, progressText, Throttled } from '../../agent/cli/learn-progress.js';
import { Learner } from '../../rules/learn/learner.js';

afterEach(() => {
  vi.useRealTimers();
});

function stream(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { isTTY, columns, chunks, write: (t: string) => chunks.push(t) };
}

describe('progress line', () => {
  it('on a terminal: rewritten in place, cut to the width, cleared at the end', () => {
    vi.useFakeTimers();
    const out = stream(true, 20);
    let n = 0;
    const p = new ProgressLine(out, 1000, () => `learn: step ${++n} of a long line`).start();
    vi.advanceTimersByTime(2500);
    p.stop();
    vi.advanceTimersByTime(5000);
    expect(out.chunks).toEqual(['\r\x1b[2Klearn: step 1 of a…', '\r\x1b[2Klearn: step 2 of a…', '\r\x1b[2K']);
  });

  it('elsewhere: one plain line each time; nothing when the interval is 0', () => {
    vi.useFakeTimers();
    const out = stream(false);
    const p = new ProgressLine(out, 10_000, () => 'learn: x').start();
    vi.advanceTimersByTime(30_000);
    p.stop();
    expect(out.chunks).toEqual(['learn: x\n', 'learn: x\n', 'learn: x\n']);
    const none = stream(false);
    new ProgressLine(none, 0, () => 'learn: x').start().stop();
    expect(none.chunks).toEqual([]);
  });

  it('how often by default: every second on a terminal, about 100 lines a run otherwise, none with --json', () => {
    expect(progressEvery({ tty: true })).toBe(1000);
    expect(progressEvery({ tty: false })).toBe(10_000);
    expect(progressEvery({ tty: false, boundMs: 24 * 3_600_000 })).toBe(300_000);
    expect(progressEvery({ tty: false, boundMs: 3_600_000 })).toBe(36_000);
    expect(progressEvery({ tty: true, json: true })).toBe(0);
    expect(progressEvery({ tty: false, json: true, progressMs: 2000 })).toBe(2000);
  });

  it('the throttle recomputes only when the last computation took under 2% of the time since', () => {
    let calls = 0;
    let cost = 0;
    const now = { t: 0 };
    vi.spyOn(performance, 'now').mockImplementation(() => now.t);
    const t = new Throttled(() => {
      calls++;
      now.t += cost;
      return calls;
    });
    cost = 10; // a computation that takes 10 ms: again after 500 ms
    expect(t.get(0)).toBe(1);
    expect(t.get(400)).toBe(1);
    expect(t.get(510)).toBe(2);
    vi.restoreAllMocks();
  });
});

describe('progress text', () => {
  const T0 = Date.parse('2025-05-01T00:00:00Z');
  function learner(seconds: number) {
    const l = new Learner([{ id: 'plc', tags: [{ name: 'level' }, { name: 'mode' }] }]);
    for (let i = 0; i < seconds; i++) {
      const ts = T0 + i * 1000;
      l.cycle({
        device: 'plc',
        samples: [
          { device: 'plc', tag: 'level', value: 1 + i / 100, quality: 'good', ts, rtt_ms: 1 },
          { device: 'plc', tag: 'mode', value: 1, quality: 'good', ts, rtt_ms: 1 },
        ],
        facts: [{ device: 'plc', kind: 'link', ts, data: { ok: true, rtt_ms: 1 } }],
        skipped_cycles: 0,
      });
    }
    return l;
  }

  it('live with --duration: elapsed of the duration, counts, rules so far, tags converged, time left', () => {
    const l = learner(60);
    expect(progressText({ learner: l, rules: new Throttled(() => l.rulesSoFar()), elapsedMs: 60_000, boundMs: 600_000, untilStable: false })).toBe(
      `learn: 60 s of 10 min, 60 cycles, 120 samples, ${l.rulesSoFar()} rules so far, 1/2 tags converged, ETA 9 min`,
    );
  });

  it('--until-stable: the ETA is what the slowest tag asks for, at most what is left of MAX', () => {
    const l = learner(60);
    const rules = new Throttled(() => l.rulesSoFar());
    // The level ramps over 59 s: it asks for 3 periods of at least 2 x 59 s (6 min, said as 10), so ~9 min more.
    expect(progressText({ learner: l, rules, elapsedMs: 60_000, boundMs: 3_600_000, untilStable: true })).toMatch(/^learn: 60 s \(until stable, at most 1 h\), 60 cycles, 120 samples, \d+ rules so far, 1\/2 tags converged, ETA ~9 min$/);
    expect(progressText({ learner: l, rules, elapsedMs: 60_000, boundMs: 120_000, untilStable: true })).toMatch(/, ETA ~60 s$/);
  });

  it('reading a recording: how much of it was read, no ETA', () => {
    const l = learner(90);
    expect(progressText({ learner: l, rules: new Throttled(() => 7), untilStable: false, recording: 'rec.jsonl' })).toBe('learn: read 89 s of rec.jsonl (to 2025-05-01T00:01:29Z), 90 cycles, 180 samples, 7 rules so far, 1/2 tags converged');
  });
});
