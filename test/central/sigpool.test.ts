// The signature worker threads of central, from the compiled build (worker threads load
// dist/agent/central/sigworker.js): a batch with good and bad signatures of several keys gets
// the same verdicts as a check on the main thread, in order.
import { describe, expect, it } from 'vitest';
import { parsePublicKey, verifySignature } from '../../agent/signing/keys.js';
import { silentLogger } from '../../protocols/log.js';
import { SimAgent } from '../../bench/central/simagent.js';
import { distEntry } from '../helpers/broker.js';

describe('signature worker threads', () => {
  it('check a batch over two threads with the verdicts of the main thread', async () => {
    const { SigPool } = (await import(distEntry('agent/central/sigpool.js'))) as typeof import('../../agent/central/sigpool.js');
    const pool = new SigPool(2, silentLogger);
    try {
      expect(pool.threads).toBe(2);
      const agents = [new SimAgent('s', 'a'), new SimAgent('s', 'b'), new SimAgent('s', 'c')];
      const jobs = Array.from({ length: 300 }, (_, i) => {
        const a = agents[i % 3]!;
        const s = a.next().signal;
        const key = parsePublicKey(a.signer.info.public_key, 'test');
        // Every seventh carries the signature of another seq: it must fail.
        const sig = i % 7 === 0 ? a.next().signal.sig! : s.sig!;
        return { hash: s.hash, sig, key_id: a.signer.keyId, pem: a.signer.info.public_key, key };
      });
      const got = await pool.check(jobs);
      expect(got).toEqual(jobs.map((j) => verifySignature(j.hash, j.sig, j.key)));
      expect(got.filter((x) => !x)).toHaveLength(jobs.filter((_, i) => i % 7 === 0).length);
      // Keys are sent once per worker; a second batch reuses them.
      expect(await pool.check(jobs.slice(0, 100))).toEqual(got.slice(0, 100));
    } finally {
      await pool.close();
    }
  });
});
