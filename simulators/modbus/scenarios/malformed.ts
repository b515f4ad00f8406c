// malformed: a share of responses leave corrupted (wrong length, bad transaction id, truncated, garbage)
// and the bus communication error counter rises, as on a noisy line or a broken gateway.
import { z } from 'zod';
import { crc16 } from '../crc.js';
import type { Framing } from '../framing.js';
import type { Rng } from '../rng.js';
import { defineScenario } from './types.js';

const KINDS = ['wrong_length', 'bad_transaction_id', 'truncated', 'garbage'] as const;
type Kind = (typeof KINDS)[number];

const params = z
  .object({
    share: z.number().min(0).max(1).default(0.3).describe('Fraction of responses corrupted'),
    kinds: z.array(z.enum(KINDS)).min(1).default([...KINDS]).describe('Corruptions to pick from'),
  })
  .strict();

function withCrc(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 2);
  body.copy(out);
  const crc = crc16(body);
  out[body.length] = crc & 0xff;
  out[body.length + 1] = crc >>> 8;
  return out;
}

/** A corrupted copy of a response ADU. For RTU the transaction id becomes the unit id. */
export function corrupt(adu: Buffer, framing: Framing, kind: Kind, rng: Rng): Buffer {
  const rtu = framing === 'rtu_over_tcp';
  switch (kind) {
    case 'wrong_length': {
      if (!rtu) {
        const out = Buffer.from(adu);
        out.writeUInt16BE(adu.readUInt16BE(4) + 3, 4);
        return out;
      }
      // Valid CRC, but three bytes more than the byte count says.
      const body = adu.subarray(0, adu.length - 2);
      return withCrc(Buffer.concat([body, Buffer.from([0xde, 0xad, 0xbe])]));
    }
    case 'bad_transaction_id': {
      if (!rtu) {
        const out = Buffer.from(adu);
        out.writeUInt16BE(adu.readUInt16BE(0) ^ 0x5a5a, 0);
        return out;
      }
      const body = Buffer.from(adu.subarray(0, adu.length - 2));
      body[0] = (body[0] + 1) & 0xff;
      return withCrc(body);
    }
    case 'truncated':
      return Buffer.from(adu.subarray(0, Math.max(1, Math.floor(adu.length / 2))));
    case 'garbage': {
      const out = Buffer.allocUnsafe(adu.length);
      for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.next() * 256);
      return out;
    }
  }
}

export default defineScenario({
  name: 'malformed',
  description: 'Corrupts a share of responses (wrong length, bad transaction id, truncated, garbage); the bus communication error counter rises.',
  models: ['tank', 'bench'],
  params,
  start(plc, p) {
    const rng = plc.scenarioRng(7);
    const state = { corrupted: 0, undo: () => {} };
    state.undo = plc.addResponseFilter((adu, framing) => {
      if (rng.next() >= p.share) return adu;
      state.corrupted++;
      plc.counters.busCommErrors++;
      return corrupt(adu, framing, p.kinds[Math.floor(rng.next() * p.kinds.length)], rng);
    });
    return state;
  },
  stop(_plc, s) {
    s.undo();
  },
});
