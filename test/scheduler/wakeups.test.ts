// The device loops' real clock (agent/wakeups.ts) and slot phases (agent/scheduler.ts): sleeps that
// end in the same millisecond share one timer, an abort ends a sleep at once and leaves no timer
// behind, and devices sharing an interval are spread over a few phase groups.
import { describe, expect, it } from 'vitest';
import { sleepShared } from '../../agent/wakeups.js';
import { SLOT_PHASES, slotPhases } from '../../agent/scheduler.js';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('shared sleeps', () => {
  it('wakes every sleep of one millisecond with one timer, after its time', async () => {
    const ac = new AbortController();
    const before = timers();
    const t0 = Date.now();
    const at = t0 + 60;
    const sleeps = Array.from({ length: 50 }, () => sleepShared(at - t0, ac.signal).then(() => Date.now()));
    expect(timers() - before).toBeLessThanOrEqual(2); // 1, or 2 if the clock ticked meanwhile
    const woke = await Promise.all(sleeps);
    expect(Math.min(...woke)).toBeGreaterThanOrEqual(at - 1); // Date.now() and the timer both round to ms
    expect(timers()).toBe(before);
  });

  it('ends at once on abort, and drops the timer when no sleep waits on it any more', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const before = timers();
    const t0 = performance.now();
    const long = sleepShared(60_000, a.signal);
    const other = sleepShared(60_000, b.signal);
    expect(timers() - before).toBeGreaterThanOrEqual(1);
    a.abort();
    await long;
    expect(performance.now() - t0).toBeLessThan(5_000);
    b.abort();
    await other;
    expect(timers()).toBe(before);
    // An aborted signal does not sleep at all.
    await sleepShared(60_000, a.signal);
  });
});

describe('slot phases', () => {
  it('spreads devices of one interval over the phase groups, each interval on its own', () => {
    const devices = [
      ...Array.from({ length: 10 }, (_, i) => ({ id: `a${i}`, interval_ms: 100 })),
      { id: 'b0', interval_ms: 1000 },
      { id: 'b1', interval_ms: 1000 },
    ];
    const p = slotPhases(devices);
    const a = devices.filter((d) => d.interval_ms === 100).map((d) => p.get(d.id));
    expect(SLOT_PHASES).toBe(4);
    expect(a).toEqual([0, 25, 50, 75, 0, 25, 50, 75, 0, 25]);
    expect([p.get('b0'), p.get('b1')]).toEqual([0, 250]);
  });
});
