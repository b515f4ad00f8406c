// The forwarder tells the outbox what awaits PUBACK, so retention never drops an event that may
// still be delivered: a broker that holds PUBACKs while the outbox clock passes max_age_hours.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder } from '../../agent/forward/index.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { drafts, roomyLimits, tempDir, testSigner } from '../outbox/drafts.js';
import { brokerConfig, range, until } from './fixtures.js';
import { startFakeBroker } from './fake-broker.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('events in flight', () => {
  it('are not expired while their PUBACK is pending, and are once the connection is gone', async () => {
    const fb = await startFakeBroker((topic) => (topic.endsWith('/events') ? 'hold' : 0));
    cleanup.push(() => fb.close());
    let mono = 0;
    const box = SqliteOutbox.open({ file: path.join(tempDir(), 'outbox.sqlite'), agent: 'gw-1', site: 'plant-a', limits: { ...roomyLimits, max_age_hours: 1 }, monotonic: () => mono, signer: testSigner });
    cleanup.push(() => box.close());
    box.append(drafts(30));
    const f = new Forwarder({ broker: brokerConfig(fb.url, { max_inflight: 10 }), agent: 'gw-1', site: 'plant-a', outbox: box });
    cleanup.push(() => f.stop(200));
    f.start();
    await until(() => f.stats().inflight === 10, 10_000, 'ten events in flight');
    mono += 2 * 3_600_000;
    const gap = box.enforceRetention();
    expect(gap?.evidence).toMatchObject({ dropped_total: 20, first_seq: 11, last_seq: 30 });
    expect(box.pending(100).map((e) => e.seq)).toEqual([...range(1, 10), 31]);
    // Connection gone: nothing is in flight any more, so they expire like the rest.
    await f.stop(200);
    mono += 2 * 3_600_000;
    expect(box.enforceRetention()?.evidence).toMatchObject({ replaces: [31] });
    expect(box.pending(100).map((e) => e.seq)).toEqual([32]);
  });
});
