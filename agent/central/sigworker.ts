// A signature-checking worker thread of the central process (sigpool.ts): Ed25519 verification
// is most of the CPU a signal costs, so it runs on several cores. Receives the public keys once
// and then batches of [hash, sig, key_id]; answers one 0/1 byte per item.
import { parentPort } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { parsePublicKey, verifySignature } from '../signing/keys.js';

export interface SigJobBatch {
  id: number;
  /** keys not sent to this worker before: [key_id, SPKI PEM] */
  keys: Array<[string, string]>;
  jobs: Array<[string, string, string]>;
}

const keys = new Map<string, KeyObject>();
parentPort?.on('message', (b: SigJobBatch) => {
  for (const [id, pem] of b.keys) keys.set(id, parsePublicKey(pem, `key ${id}`));
  const ok = new Uint8Array(b.jobs.length);
  b.jobs.forEach(([hash, sig, keyId], i) => {
    const key = keys.get(keyId);
    ok[i] = key !== undefined && verifySignature(hash, sig, key) ? 1 : 0;
  });
  parentPort!.postMessage({ id: b.id, ok }, [ok.buffer]);
});
