// The device loops' real clock (agent/wakeups.ts) and slot phases (agent/scheduler.ts): sleeps that
// end in the same millisecond share one timer, an abort ends a sleep at once and leaves no timer
// behind, and devices sharing an interval are split into phase groups when their load is heavy.
import { describe, expect, it } from 'vitest';
import { sleepShared } from '../../agent/wakeups.js';
import { PHASE_SAMPLES_PER_MS, SLOT_PHASES, slotPhases } from '../../agent/scheduler.js';

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
  const tags = (n: number) => Array.from({ length: n }, () => ({}));
  const group = (prefix: string, n: number, interval_ms: number, registers: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, interval_ms, tags: tags(registers) }));
  it('keeps one slot at a light load, and splits a heavy one into up to four groups, per interval', () => {
    expect(SLOT_PHASES).toBe(4);
    expect(PHASE_SAMPLES_PER_MS).toBe(250);
    // 100 x 100 samples every 100 ms = 100 per ms: one slot.
    const light = slotPhases(group('a', 100, 100, 100));
    expect(new Set(light.values())).toEqual(new Set([0]));
    // 100 x 125 every 10 ms = 1,250 per ms: four groups, given in turn.
    const heavy = slotPhases([...group('h', 10, 10, 125 * 10), ...group('b', 2, 1000, 10)]);
    expect([...heavy.values()].slice(0, 6)).toEqual([0, 2, 5, 7, 0, 2]);
    expect([heavy.get('b0'), heavy.get('b1')]).toEqual([0, 0]);
    // 100 x 125 every 20 ms = 625 per ms: three groups.
    const mid = slotPhases(group('m', 100, 20, 125));
    expect([...new Set(mid.values())]).toEqual([0, 6, 13]);
  });
});
