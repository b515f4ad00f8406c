// Fault suite (c), short version: dead, refused, slow and garbage-answering PLCs beside a healthy
// one, all polled by the real agent process; the healthy one keeps its schedule within 5%.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTHY, runNeighbours } from '../../bench/soak/faults/neighbours.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker?.stop();
});

describe('fault: bad PLCs beside a healthy one', () => {
  it('keeps the healthy device on schedule within 5%', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-faults-neighbours-'));
    // 120 slots: one slot of jitter is under 1%.
    const f = await runNeighbours({ brokerUrl: broker.url, dir, windowMs: 12_000, say: (l) => console.info(`neighbours: ${l}`) });
    expect(f.share).toBeGreaterThanOrEqual(0.95);
    expect(f.share).toBeLessThanOrEqual(1.05);
    expect(f.devices[HEALTHY].up).toBe(1);
    // The faults really happened: the bad devices failed.
    for (const id of ['dead', 'refused', 'garbage', 'malformed']) {
      expect(f.devices[id].failed, id).toBeGreaterThan(0);
      expect(f.devices[id].up, id).toBe(0);
    }
    // The slow one answers (mostly: near its timeout, a loaded machine can tip one answer over).
    expect(f.devices.slow.failed).toBeLessThan(f.devices.slow.cycles / 2);
    expect(f.devices.slow.rtt_ms).toBeGreaterThanOrEqual(50);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
