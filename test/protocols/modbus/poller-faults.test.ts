// Poller fault handling over real TCP: silent devices, refused and dropped connections, exception
// answers, garbage, late answers and aborts. poll() must end with PollErrors, never hang or throw.
import { describe, expect, it } from 'vitest';
import { ModbusError } from '../../../protocols/modbus/errors.js';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { freePort } from '../../helpers/ports.js';
import { deviceConfig, exception, mbapFrame, modelHandler, rtuAnswer, startPeer, type PeerAnswer, type PeerRequest } from './peers.js';

const model = modelHandler({});
const TWO_READS = [
  { name: 'a', area: 'holding_register', address: 0 },
  { name: 'b', area: 'holding_register', address: 100 },
];

interface Variant {
  name: string;
  transport: Record<string, unknown>;
  framing: 'mbap' | 'rtu';
  /** the modbus-serial library client */
  library: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'Modbus TCP, native client', transport: { type: 'tcp' }, framing: 'mbap', library: false },
  { name: 'Modbus TCP, modbus-serial client', transport: { type: 'tcp', client: 'modbus-serial' }, framing: 'mbap', library: true },
  { name: 'RTU over TCP', transport: { type: 'rtu_over_tcp' }, framing: 'rtu', library: false },
];

async function withPeer(
  variant: Variant,
  handler: (req: PeerRequest) => PeerAnswer,
  extra: Record<string, unknown>,
  body: (p: ModbusPoller, peer: Awaited<ReturnType<typeof startPeer>>) => Promise<void>,
  tags: object[] = TWO_READS,
): Promise<void> {
  const peer = await startPeer(handler, { framing: variant.framing });
  const p = new ModbusPoller(deviceConfig(peer.port, tags, extra, variant.transport));
  try {
    await body(p, peer);
  } finally {
    await p.close();
    await peer.close();
  }
}

describe.each(VARIANTS)('$name', (variant) => {
  it('times out on a device that never answers, after retries, without hanging', async () => {
    await withPeer(variant, () => null, { timeout_ms: 150, retries: 1 }, async (p) => {
      const t0 = performance.now();
      const r = await p.poll();
      const took = performance.now() - t0;
      // each read: the retried first attempt (reported, marked retried) and the final failure
      expect(r.errors.map((e) => [e.code, e.retried ?? false])).toEqual([
        ['timeout', true],
        ['timeout', false],
        ['timeout', true],
        ['timeout', false],
      ]);
      expect(r.requests).toBe(4); // two reads, each tried twice
      expect(r.samples.map((s) => [s.tag, s.quality, s.value, s.reason])).toEqual([
        ['a', 'bad', null, 'timeout'],
        ['b', 'bad', null, 'timeout'],
      ]);
      expect(r.samples[0].rtt_ms).toBeGreaterThanOrEqual(290);
      expect(took).toBeGreaterThanOrEqual(4 * 150 - 20);
      expect(took).toBeLessThan(2000);
    });
  });

  it('reports connection refused from connect() and from poll()', async () => {
    const port = await freePort();
    const p = new ModbusPoller(deviceConfig(port, TWO_READS, {}, variant.transport));
    try {
      const err = await p.connect().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModbusError);
      expect(err).toMatchObject({ code: 'connect_refused' });
      const r = await p.poll();
      expect(r.errors.map((e) => e.code)).toEqual(['connect_refused']);
      expect(r.requests).toBe(0);
      expect(r.samples.every((s) => s.quality === 'bad' && s.reason === 'connect_refused')).toBe(true);
      expect(p.isConnected()).toBe(false);
    } finally {
      await p.close();
    }
  });

  it('reports a connection dropped mid-poll, keeps what was read, and reconnects next poll', async () => {
    let n = 0;
    const handler = (req: PeerRequest): PeerAnswer => (++n === 2 ? (sock) => sock.destroy() : model(req));
    await withPeer(variant, handler, { timeout_ms: 2000, retries: 2 }, async (p, peer) => {
      const r = await p.poll();
      // connection_lost, not timeout: the drop is noticed from the socket, not after 2 s x 3 tries
      expect(r.errors.map((e) => e.code)).toEqual(['connection_lost']);
      expect(r.samples.map((s) => [s.tag, s.quality])).toEqual([
        ['a', 'good'],
        ['b', 'bad'],
      ]);
      const r2 = await p.poll();
      expect(r2.errors).toEqual([]);
      expect(peer.connections).toBe(2);
    });
  });

  it('reports an exception answer with its code, without retrying it', async () => {
    const handler = (req: PeerRequest): PeerAnswer => (req.pdu.readUInt16BE(1) === 100 ? exception(3, 2) : model(req));
    await withPeer(variant, handler, { retries: 2 }, async (p) => {
      const r = await p.poll();
      expect(r.errors).toEqual([expect.objectContaining({ code: 'modbus_exception', exception_code: 2, request: 'FC03 100..100' })]);
      expect(r.errors[0].message).toMatch(/illegal data address/);
      expect(r.requests).toBe(2);
      expect(r.samples.map((s) => [s.tag, s.quality])).toEqual([
        ['a', 'good'],
        ['b', 'bad'],
      ]);
      expect(p.isConnected()).toBe(true);
    });
  });

  it('retries a busy device (exception 6) within the cycle', async () => {
    let n = 0;
    const handler = (req: PeerRequest): PeerAnswer => (++n === 1 ? exception(3, 6) : model(req));
    await withPeer(variant, handler, { retries: 1 }, async (p) => {
      const r = await p.poll();
      // the read succeeded on its retry; what the device did is still reported
      expect(r.errors.map((e) => [e.code, e.exception_code, e.retried])).toEqual([['modbus_exception', 6, true]]);
      expect(r.samples.every((s) => s.quality === 'good')).toBe(true);
      expect(r.requests).toBe(3);
    });
  });

  it('reports an answer with the wrong byte count as bad_response', async () => {
    const handler = (req: PeerRequest): PeerAnswer => (req.pdu.readUInt16BE(1) === 0 ? Buffer.from([3, 4, 0, 1, 0, 2]) : model(req));
    await withPeer(variant, handler, { timeout_ms: 200 }, async (p) => {
      const r = await p.poll();
      // modbus-serial cannot frame such an answer and waits for the rest: a timeout.
      const want = variant.library ? ['bad_response', 'timeout'] : ['bad_response'];
      expect(want).toContain(r.errors[0]?.code);
      expect(r.samples[0].quality).toBe('bad');
      const r2 = await p.poll();
      expect(r2.samples[1]).toMatchObject({ tag: 'b', quality: 'good' });
    });
  });
});

describe.each(VARIANTS.filter((v) => !v.library))('$name, native framing', (variant) => {
  it('reports garbage as bad_response and recovers', async () => {
    let n = 0;
    const garbage = Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n');
    const handler = (req: PeerRequest): PeerAnswer => (++n === 1 ? (sock) => sock.write(garbage) : model(req));
    await withPeer(variant, handler, { timeout_ms: 1000 }, async (p) => {
      const t0 = performance.now();
      const r = await p.poll();
      expect(performance.now() - t0).toBeLessThan(900); // at once, not after the timeout
      expect(r.errors[0]).toMatchObject({ code: 'bad_response' });
      const r2 = await p.poll();
      expect(r2.errors).toEqual([]);
      expect(r2.samples.map((s) => s.value)).toEqual([0, 100]);
    });
  });

  it('drops a late answer to a timed-out request instead of taking it for the next one', async () => {
    // Request 1 times out (300 ms) and its answer (111) comes at 400 ms. Modbus TCP: it arrives
    // while request 2 waits for its own answer (sent 200 ms after it arrives) and is told apart
    // by its transaction id. RTU has no id: request 2 waits for a quiet line, so the late answer
    // arrives before request 2 is sent and is dropped.
    let n = 0;
    const handler = (req: PeerRequest): PeerAnswer => {
      const k = ++n;
      const answer = modelHandler({ holding: () => (k === 1 ? 111 : 200 + k) })(req) as Buffer;
      const frame = variant.framing === 'mbap' ? mbapFrame(req.tid, req.unit, answer) : rtuAnswer(req.unit, answer);
      if (k === 1) {
        return (sock) => setTimeout(() => sock.write(frame), 400);
      }
      if (k === 2 && variant.framing === 'mbap') return (sock) => setTimeout(() => sock.write(frame), 200);
      return answer;
    };
    const tags = [{ name: 'a', area: 'holding_register', address: 0 }];
    await withPeer(
      variant,
      handler,
      { timeout_ms: 300 },
      async (p) => {
        expect((await p.poll()).errors[0]).toMatchObject({ code: 'timeout' });
        const seen: unknown[] = [];
        for (let i = 0; i < 3; i++) seen.push((await p.poll()).samples[0].value);
        expect(seen).toEqual([202, 203, 204]);
      },
      tags,
    );
  });

  it('honours an AbortSignal while waiting for an answer', async () => {
    let n = 0;
    const handler = (req: PeerRequest): PeerAnswer => (++n === 1 ? null : model(req));
    await withPeer(variant, handler, { timeout_ms: 5000 }, async (p) => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      const t0 = performance.now();
      const r = await p.poll(ac.signal);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(r.errors.map((e) => e.code)).toEqual(['aborted']);
      const r2 = await p.poll();
      expect(r2.errors).toEqual([]);
    });
  });
});

describe('RTU over TCP: a quiet line after a timeout', () => {
  const rtu = VARIANTS[2];
  it('after a timeout, waits one more timeout for a quiet line, then goes on', async () => {
    let n = 0;
    const handler = (req: PeerRequest): PeerAnswer => (++n === 1 ? null : model(req));
    const tags = [{ name: 'a', area: 'holding_register', address: 0 }];
    await withPeer(
      rtu,
      handler,
      { timeout_ms: 200 },
      async (p) => {
        expect((await p.poll()).errors[0]).toMatchObject({ code: 'timeout' });
        const t0 = performance.now();
        const r = await p.poll();
        expect(r.errors).toEqual([]);
        expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
        const t1 = performance.now();
        expect((await p.poll()).errors).toEqual([]);
        expect(performance.now() - t1).toBeLessThan(150); // quiet again: no wait
      },
      tags,
    );
  });
});

describe('Modbus TCP, native client: framing checks', () => {
  const native = VARIANTS[0];
  it('refuses an answer from another unit', async () => {
    const handler = (req: PeerRequest): PeerAnswer => (sock) => sock.write(mbapFrame(req.tid, 7, model(req) as Buffer));
    await withPeer(native, handler, {}, async (p) => {
      const r = await p.poll();
      expect(r.errors.map((e) => e.code)).toEqual(['bad_response', 'bad_response']);
      expect(r.errors[0].message).toMatch(/unit 7/);
    });
  });

  it('reassembles answers split across TCP segments', async () => {
    const handler = (req: PeerRequest): PeerAnswer => (sock) => {
      const f = mbapFrame(req.tid, req.unit, model(req) as Buffer);
      sock.write(f.subarray(0, 3));
      setTimeout(() => sock.write(f.subarray(3, 8)), 5);
      setTimeout(() => sock.write(f.subarray(8)), 10);
    };
    await withPeer(native, handler, {}, async (p) => {
      const r = await p.poll();
      expect(r.errors).toEqual([]);
      expect(r.samples.map((s) => s.value)).toEqual([0, 100]);
    });
  });
});
