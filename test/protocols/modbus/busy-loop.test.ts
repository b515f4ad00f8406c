// A timeout measures the device, not the agent's own event loop: when the loop was busy (many
// devices answering in one slot) past a request's timeout while its answer already waited in the
// socket, the answer is taken. Timers run before I/O in each turn of the loop, so a timeout decided
// in the timer alone would fail a request the device answered in time.
import { describe, expect, it } from 'vitest';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { deviceConfig, mbapFrame, modelHandler, rtuAnswer, startPeer, type PeerAnswer, type PeerRequest } from './peers.js';

const model = modelHandler({});

/** Block the whole event loop (this test's process runs the peer and the poller) for ms. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe.each([
  { name: 'Modbus TCP', framing: 'mbap' as const, transport: { type: 'tcp' } },
  { name: 'RTU over TCP', framing: 'rtu' as const, transport: { type: 'rtu_over_tcp' } },
])('$name', ({ framing, transport }) => {
  it('takes an answer that arrived in time while the event loop was busy past the timeout', async () => {
    // The peer answers at once, then keeps the loop busy for three timeouts: when the loop runs
    // again, the request's timeout is due and its answer waits in the socket.
    const handler = (req: PeerRequest): PeerAnswer => (sock) => {
      const pdu = model(req) as Buffer;
      sock.write(framing === 'mbap' ? mbapFrame(req.tid, req.unit, pdu) : rtuAnswer(req.unit, pdu));
      busy(150);
    };
    const peer = await startPeer(handler, { framing });
    const p = new ModbusPoller(deviceConfig(peer.port, [{ name: 'a', area: 'holding_register', address: 7 }], { timeout_ms: 50, retries: 0 }, transport));
    try {
      const r = await p.poll();
      expect(r.errors).toEqual([]);
      expect(r.samples.map((s) => [s.tag, s.quality, s.value])).toEqual([['a', 'good', 7]]);
    } finally {
      await p.close();
      await peer.close();
    }
  });
});
