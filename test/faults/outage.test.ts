// Fault suite (b), short version: the broker is stopped for a few seconds while the flood runs;
// afterwards every committed event has arrived, in order, with a valid chain.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOutage } from '../../bench/soak/faults/outage.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;
beforeAll(async () => {
  // persistence: the capture's session and its queued messages survive the broker's restart
  broker = await startTestBroker({ persistence: true });
});
afterAll(async () => {
  await broker?.stop();
});

describe('fault: broker unreachable under load', () => {
  it('delivers the whole backlog in order once the broker is back', { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-faults-outage-'));
    const f = await runOutage({ broker, dir, warmupMs: 2000, outageMs: 5000, say: (l) => console.info(`outage: ${l}`) });
    expect(f.backlog).toBeGreaterThan(1000);
    expect(f.check.lost).toBe(0);
    expect(f.check.reordered).toBe(0);
    expect(f.check.conflicting).toBe(0);
    expect(f.check.unreadable).toBe(0);
    expect(f.check.chain).toEqual([]);
    expect(f.check.unique).toBe(f.lastSeq);
    expect(f.check.signaturesChecked).toBe(true);
    expect(f.check.badSignatures).toBe(0);
    // The real `otsentry verify` on the same capture, seqs 1..last, signatures required.
    expect(f.verify.ok, f.verify.summary).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
