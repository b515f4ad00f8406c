// AbortSignal handling: one listener per signal however many pollers share it, and a shared
// shutdown signal ends every poll at once.
import { afterEach, describe, expect, it } from 'vitest';
import { pause, watchAbort } from '../../../protocols/modbus/abort.js';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { deviceConfig, holdingTags, startPeer } from './peers.js';

const warnings: Error[] = [];
const onWarning = (w: Error): void => {
  warnings.push(w);
};
process.on('warning', onWarning);
afterEach(() => {
  warnings.length = 0;
});

describe('watchAbort and pause', () => {
  it('calls every watcher once, and not the ones that stopped watching', () => {
    const ac = new AbortController();
    const calls: string[] = [];
    watchAbort(ac.signal, () => calls.push('a'));
    const stop = watchAbort(ac.signal, () => calls.push('b'));
    watchAbort(ac.signal, () => calls.push('c'));
    stop();
    ac.abort();
    ac.abort();
    expect(calls).toEqual(['a', 'c']);
    watchAbort(ac.signal, () => calls.push('late')); // already aborted: at once
    expect(calls).toEqual(['a', 'c', 'late']);
  });

  it('pause ends early on abort and never rejects', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 30);
    await pause(5000, ac.signal);
    expect(performance.now() - t0).toBeLessThan(1000);
    await pause(5000, ac.signal); // already aborted
    await pause(5);
  });
});

describe('a shutdown signal shared by many pollers', () => {
  it('aborts every pending poll at once without a MaxListeners warning', async () => {
    const peer = await startPeer(() => null); // never answers
    const pollers = Array.from({ length: 30 }, () => new ModbusPoller(deviceConfig(peer.port, holdingTags(1), { timeout_ms: 10_000 })));
    try {
      const ac = new AbortController();
      await Promise.all(pollers.map((p) => p.connect(ac.signal)));
      const t0 = performance.now();
      const polls = pollers.map((p) => p.poll(ac.signal));
      setTimeout(() => ac.abort(), 50);
      const results = await Promise.all(polls);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(results.every((r) => r.errors[0]?.code === 'aborted')).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      await Promise.all(pollers.map((p) => p.close()));
      await peer.close();
    }
  });
});
