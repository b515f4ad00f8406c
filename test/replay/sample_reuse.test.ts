// Per-cycle sample storage: the Modbus poller refills the same Sample objects on every poll
// (protocols/types.ts, PollResult.samples), so whatever keeps samples past their cycle must copy.
// The recorder and the learner read a cycle at once: the recording and the learned rules must
// hold every cycle's own values, not the last poll's values repeated.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordingWriter } from '../../agent/record/record.js';
import type { CycleOutput } from '../../agent/scheduler.js';
import { ModbusPoller } from '../../protocols/modbus/poller.js';
import { copySample, type Fact, type Sample } from '../../protocols/types.js';
import { Learner } from '../../rules/learn/learner.js';
import { deviceConfig, startPeer, type PeerRequest } from '../protocols/modbus/peers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-reuse-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** FC03 answers: register 0 counts the requests (1, 2, ...), register 1 is 100 minus that. */
function countingDevice(): (req: PeerRequest) => Buffer {
  let n = 0;
  return (req) => {
    n++;
    const qty = req.pdu.readUInt16BE(3);
    const out = Buffer.alloc(2 + qty * 2);
    out[0] = 3;
    out[1] = qty * 2;
    for (let i = 0; i < qty; i++) out.writeUInt16BE(i === 0 ? n : 100 - n, 2 + i * 2);
    return out;
  };
}

describe('samples refilled by each poll', () => {
  it('record and learn keep every cycle\'s own values; a kept sample is a copy', async () => {
    const peer = await startPeer(countingDevice());
    const tags = [
      { name: 'a', area: 'holding_register', address: 0 },
      { name: 'b', area: 'holding_register', address: 1 },
    ];
    const cfg = deviceConfig(peer.port, tags);
    const p = new ModbusPoller(cfg);
    const file = path.join(dir, 'reuse.jsonl');
    const writer = new RecordingWriter(file, [cfg]);
    const learner = new Learner([cfg], { min_cycles: 3, invariants: false, models: false });
    const kept: Sample[][] = [];
    let first: Sample[] | undefined;
    try {
      for (let i = 0; i < 6; i++) {
        const r = await p.poll();
        expect(r.errors).toEqual([]);
        first ??= r.samples;
        // The storage really is reused: the same array and objects as the first poll's.
        expect(r.samples).toBe(first);
        const link: Fact = { device: cfg.id, kind: 'link', ts: r.samples[0].ts, data: { reachable: true } };
        const out: CycleOutput = { device: cfg.id, samples: r.samples, facts: [link], skipped_cycles: 0 };
        writer.writeCycle(out);
        learner.cycle(out);
        kept.push(out.samples.map(copySample));
      }
    } finally {
      writer.close();
      await p.close();
      await peer.close();
    }
    const expected = [1, 2, 3, 4, 5, 6].map((n) => [n, 100 - n]);
    // The explicit copies hold their own cycle's values; the pooled objects hold only the last.
    expect(kept.map((c) => c.map((s) => s.value))).toEqual(expected);
    expect(first!.map((s) => s.value)).toEqual([6, 94]);
    expect(kept[0][0]).not.toBe(first![0]);
    // The recording: one line per sample with the value read in that cycle.
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const recorded = lines.filter((l) => l.type === 'sample');
    expect(recorded.map((l) => [l.tag, l.value])).toEqual(expected.flatMap(([a, b]) => [['a', a], ['b', b]]));
    expect(recorded.every((l) => l.quality === 'good' && !('reason' in l))).toBe(true);
    // The learner: every value of every cycle counted (a discrete tag lists all it saw).
    const learned = learner.result();
    expect(learned.samples).toBe(12);
    expect(learned.devices[0].cycles).toBe(6);
    const values = (tag: string) => learned.rules.find((r) => r.rule.type === 'allowed_values' && r.rule.tag === tag)?.rule.values;
    expect(values('a')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(values('b')).toEqual([99, 98, 97, 96, 95, 94].sort((x, y) => x - y));
  });
});
