// Serial RTU never puts one read's answer on another read's tags: a slave on a pty pair answers
// every read 30 ms late and every second read of one register 145 ms late (timeout 100 ms, one
// retry). RTU answers carry no transaction id, so a late answer taken for the next request would
// show that request's tags with another address's value, quality good.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { modbusDeviceSchema } from '../../../protocols/modbus/config.js';
import { deviceConfig, modelHandler, rtuAnswer, startPeer, type PeerRequest } from './peers.js';
import { ptySkip, startPtyPair, startSerialPeer, type PtyPair, type SerialPeer } from './serial-peer.js';

const VALUES: Record<number, number> = { 0: 1111, 10: 2222, 20: 3333 };
const TAGS = Object.keys(VALUES).map((a) => ({ name: `r${a}`, area: 'holding_register', address: Number(a) }));
const POLLS = 40;

if (ptySkip) console.log(`skipping serial RTU late-answer test: ${ptySkip}`);

describe.skipIf(ptySkip !== null)('serial RTU with late answers (pty pair)', () => {
  let pty: PtyPair;
  let slave: SerialPeer;
  beforeAll(async () => {
    pty = await startPtyPair();
    let readsOf10 = 0;
    const model = modelHandler({ holding: (a) => VALUES[a] ?? 0 });
    slave = await startSerialPeer(pty.theirs, (req) => model(req) as Buffer, (req) => {
      if (req.pdu[0] === 3 && req.pdu.readUInt16BE(1) === 10 && ++readsOf10 % 2 === 0) return 145;
      return 30;
    });
  });
  afterAll(async () => {
    await slave?.close();
    await pty?.close();
  });

  it(`no sample of ${POLLS} polls carries another address's value`, async () => {
    const cfg = modbusDeviceSchema.parse({
      id: 'dev1',
      protocol: 'modbus',
      timeout_ms: 100,
      retries: 1,
      transport: { type: 'rtu', path: pty.ours, baud_rate: 19200, parity: 'none' },
      tags: TAGS,
    });
    const p = new ModbusPoller(cfg);
    const wrong: string[] = [];
    let good = 0;
    try {
      for (let i = 0; i < POLLS; i++) {
        const r = await p.poll();
        for (const s of r.samples) {
          if (s.quality !== 'good') continue;
          good++;
          const want = VALUES[Number(s.tag.slice(1))];
          if (s.value !== want) wrong.push(`poll ${i + 1}: ${s.tag} = ${String(s.value)}, expected ${want}`);
        }
      }
    } finally {
      await p.close();
    }
    expect(wrong).toEqual([]);
    // The slave answers every request in the end: most samples are good, not all timed out.
    expect(good).toBeGreaterThan(POLLS * TAGS.length * 0.9);
    expect(slave.requests.every((r) => r.pdu[0] === 3)).toBe(true);
  });
});

describe('RTU: a late answer that comes after the next request was sent', () => {
  it('is not taken for the next request: the answer that follows it is', async () => {
    const model = modelHandler({ holding: (a) => VALUES[a] ?? 0 });
    let late: Buffer | null = null;
    // The first read gets no answer in time; its answer comes right when the next request
    // arrives, followed by that request's own answer.
    const peer = await startPeer(
      (req: PeerRequest) => {
        if (!late) {
          late = rtuAnswer(req.unit, model(req) as Buffer);
          return null;
        }
        const own = rtuAnswer(req.unit, model(req) as Buffer);
        const stale = late;
        return (sock) => {
          sock.write(stale);
          sock.write(own);
        };
      },
      { framing: 'rtu' },
    );
    const p = new ModbusPoller(deviceConfig(peer.port, TAGS.slice(0, 2), { timeout_ms: 100, retries: 0 }, { type: 'rtu_over_tcp' }));
    try {
      const r = await p.poll();
      expect(r.samples.map((s) => [s.tag, s.quality, s.value])).toEqual([
        ['r0', 'bad', null],
        ['r10', 'good', VALUES[10]],
      ]);
    } finally {
      await p.close();
      await peer.close();
    }
  });
});
