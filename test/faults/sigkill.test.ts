// Fault suite (a), short version: three random SIGKILLs of the real agent process while the flood
// runs (aiming at >= 500 signals/s); afterwards the independent capture holds every committed seq.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSigkill } from '../../bench/soak/faults/sigkill.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker?.stop();
});

describe('fault: SIGKILL of the agent under load', () => {
  it('loses, reorders and forges nothing across three random SIGKILLs', { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-faults-sigkill-'));
    const f = await runSigkill({ broker, dir, kills: 3, minUpMs: 1500, maxUpMs: 4000, tailMs: 3000, say: (l) => console.info(`sigkill: ${l}`) });
    expect(f.lastSeq).toBeGreaterThan(1000);
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
