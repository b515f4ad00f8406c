// Ed25519 checks of a batch of signals spread over worker threads (sigworker.ts) and the main
// thread: about 100 µs of CPU each, most of what a signal costs central, so one process uses
// several cores for them.
// verify.workers 0 (or a build without the compiled worker, as under the test runner) checks on
// the main thread. A worker that dies is replaced and its batch checked on the main thread.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../protocols/log.js';
import { verifySignature } from '../signing/keys.js';
import type { SigJobBatch } from './sigworker.js';

export interface SigJob {
  hash: string;
  sig: string;
  key_id: string;
  /** SPKI PEM, sent to each worker once */
  pem: string;
  key: KeyObject;
}

interface Slot {
  worker: Worker;
  sentKeys: Set<string>;
  pending: Map<number, { resolve: (ok: Uint8Array) => void; jobs: SigJob[] }>;
}

const WORKER_FILE = fileURLToPath(new URL('./sigworker.js', import.meta.url));
/** Below this many signatures a batch is checked on the main thread (the message round trip costs more). */
const MIN_PARALLEL = 64;

export class SigPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  constructor(
    size: number,
    private readonly log: Logger,
  ) {
    const usable = size > 0 && fs.existsSync(WORKER_FILE);
    for (let i = 0; usable && i < size; i++) this.slots.push(this.spawn());
  }

  get threads(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_FILE), sentKeys: new Set(), pending: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (m: { id: number; ok: Uint8Array }) => {
      const p = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      p?.resolve(m.ok);
    });
    slot.worker.on('error', (e) => {
      this.log.error({ error_code: 'sig_worker_failed', err: e.message }, `A signature worker failed (${e.message}); its batch is checked on the main thread and the worker replaced.`);
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = this.spawn();
      for (const p of slot.pending.values()) p.resolve(checkHere(p.jobs));
      slot.pending.clear();
    });
    return slot;
  }

  /** One boolean per job: the signature verifies with the job's key. */
  async check(jobs: readonly SigJob[]): Promise<boolean[]> {
    if (this.slots.length === 0 || jobs.length < MIN_PARALLEL) return [...checkHere(jobs)].map((x) => x === 1);
    // The main thread takes a share too while the workers run: with one worker, two cores work.
    const per = Math.ceil(jobs.length / (this.slots.length + 1));
    const parts = this.slots.map((slot, i) => this.send(slot, jobs.slice(i * per, (i + 1) * per)));
    const here = checkHere(jobs.slice(this.slots.length * per));
    const out: boolean[] = [];
    for (const ok of [...(await Promise.all(parts)), here]) for (const x of ok) out.push(x === 1);
    return out;
  }

  private send(slot: Slot, jobs: SigJob[]): Promise<Uint8Array> {
    if (jobs.length === 0) return Promise.resolve(new Uint8Array(0));
    const keys: Array<[string, string]> = [];
    for (const j of jobs) {
      if (slot.sentKeys.has(j.key_id)) continue;
      slot.sentKeys.add(j.key_id);
      keys.push([j.key_id, j.pem]);
    }
    const id = ++this.nextId;
    return new Promise((resolve) => {
      slot.pending.set(id, { resolve, jobs });
      const batch: SigJobBatch = { id, keys, jobs: jobs.map((j) => [j.hash, j.sig, j.key_id]) };
      slot.worker.postMessage(batch);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}

function checkHere(jobs: readonly SigJob[]): Uint8Array {
  return Uint8Array.from(jobs.map((j) => (verifySignature(j.hash, j.sig, j.key) ? 1 : 0)));
}
