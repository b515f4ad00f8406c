// kill -9 of a process writing to the outbox: every reported commit survives, acks stay acked,
// order and the hash chain hold, and seq continues after reopening. Needs `npm run build`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SqliteOutbox, verifyChain } from '../../agent/outbox/index.js';
import type { RiskSignal } from '../../rules/signal.js';
import { loadSigningKey } from '../../agent/signing/keys.js';
import { distEntry } from '../helpers/broker.js';
import { draft, roomyLimits, tempDir } from './drafts.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function runAndKill(file: string, minSeq: number): Promise<{ committed: number; acked: Set<number> }> {
  distEntry('agent/outbox/index.js');
  const child = spawn(process.execPath, [path.join(here, 'writer-child.mjs'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Set<number>();
  let committed = 0;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const lines = readline.createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    if (line.startsWith('C ')) committed = Number(line.slice(2));
    if (line.startsWith('A ')) line.slice(2).split(',').forEach((s) => acked.add(Number(s)));
    if (committed >= minSeq && !child.killed) child.kill('SIGKILL');
  });
  const signal = await exited;
  expect(signal).toBe('SIGKILL');
  return { committed, acked };
}

describe('outbox under kill -9', () => {
  it('loses nothing committed and keeps order and chain', { timeout: 60_000 }, async () => {
    const file = path.join(tempDir(), 'outbox.sqlite');
    const rounds: Array<{ committed: number; acked: Set<number> }> = [];
    for (const minSeq of [3000, 8000]) rounds.push(await runAndKill(file, minSeq));

    const box = SqliteOutbox.open({ file, agent: 'gw-kill', site: 'plant-k', limits: roomyLimits, signer: loadSigningKey(path.dirname(file), { create: false }) });
    try {
      const held = box.pending(1_000_000).map((e) => JSON.parse(e.payload) as RiskSignal);
      const acked = new Set(rounds.flatMap((r) => [...r.acked]));
      const heldSeqs = new Set(held.map((s) => s.seq));
      const last = rounds[1].committed;
      expect(last).toBeGreaterThanOrEqual(8000);
      // Every seq up to the last reported commit is either held or was acked; never both.
      const lost = [];
      for (let seq = 1; seq <= last; seq++) if (heldSeqs.has(seq) === acked.has(seq)) lost.push(seq);
      expect(lost).toEqual([]);
      // Held events are in seq order and every link between neighbours holds.
      expect(held.map((s) => s.seq)).toEqual([...heldSeqs].sort((a, b) => a - b));
      for (let i = 1; i < held.length; i++) {
        if (held[i].seq === held[i - 1].seq + 1) expect(held[i].prev_hash).toBe(held[i - 1].hash);
      }
      expect(verifyChain(held.filter((s) => s.seq > Math.max(...acked))).ok).toBe(true);
      // The writer may have committed more than it reported before it died; seq continues after.
      const next = box.append([draft()]);
      expect(next[0].seq).toBe(box.stats().last_seq);
      expect(next[0].seq).toBeGreaterThan(last);
      const before = box.pending(1, next[0].seq - 2)[0];
      expect(next[0].prev_hash).toBe((JSON.parse(before.payload) as RiskSignal).hash);
    } finally {
      box.close();
    }
  });
});
