// Identity (FC43) and diagnostics (FC08) facts: fallbacks, "more follows", unsupported devices
// remembered per device, and counter reads that never go beyond sub-functions 0x0B..0x12.
import { describe, expect, it } from 'vitest';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { deviceConfig, holdingTags, modelHandler, startPeer, type DeviceModel, type PeerRequest } from './peers.js';

const FULL_ID = { 0: 'ACME', 1: 'X-1', 2: '1.2.3', 3: 'https://acme.invalid', 4: 'Pump PLC', 5: 'PP-7' };
const COUNTERS = { 0x0b: 100, 0x0c: 1, 0x0d: 2, 0x0e: 97, 0x0f: 0, 0x10: 0, 0x11: 3, 0x12: 0 };

async function session(model: DeviceModel, extra: Record<string, unknown>, body: (p: ModbusPoller, requests: PeerRequest[]) => Promise<void>): Promise<void> {
  const peer = await startPeer(modelHandler(model));
  const p = new ModbusPoller(deviceConfig(peer.port, holdingTags(2), extra));
  try {
    await body(p, peer.requests);
  } finally {
    await p.close();
    await peer.close();
  }
}

describe('identity (FC43/14)', () => {
  it('reads the regular objects', async () => {
    await session({ identity: FULL_ID }, {}, async (p, reqs) => {
      const [fact] = await p.readFacts(['identity']);
      expect(fact).toMatchObject({ device: 'dev1', kind: 'identity' });
      expect(fact.data).toEqual({
        vendor: 'ACME',
        product_code: 'X-1',
        revision: '1.2.3',
        vendor_url: 'https://acme.invalid',
        product_name: 'Pump PLC',
        model_name: 'PP-7',
        conformity_level: 0x82,
      });
      expect(reqs.map((r) => [...r.pdu])).toEqual([[43, 14, 2, 0]]);
    });
  });

  it('falls back to the basic objects when the regular set is refused', async () => {
    await session({ identity: FULL_ID, identityBasicOnly: true }, {}, async (p, reqs) => {
      const [fact] = await p.readFacts(['identity']);
      expect(fact.data).toMatchObject({ vendor: 'ACME', product_code: 'X-1', revision: '1.2.3' });
      expect(fact.data.product_name).toBeUndefined();
      expect(reqs.map((r) => r.pdu[2])).toEqual([2, 1]);
    });
  });

  it('follows "more follows" across answers', async () => {
    await session({ identity: FULL_ID, identityChunk: 2 }, {}, async (p, reqs) => {
      const [fact] = await p.readFacts(['identity']);
      expect(fact.data).toMatchObject({ vendor: 'ACME', model_name: 'PP-7', vendor_url: 'https://acme.invalid' });
      expect(reqs.map((r) => r.pdu[3])).toEqual([0, 2, 4]);
    });
  });

  it('yields no fact from a device that refuses FC43, and asks again only after unsupported_recheck_ms', async () => {
    await session({ identity: null }, { unsupported_recheck_ms: 100 }, async (p, reqs) => {
      expect(await p.readFacts(['identity'])).toEqual([]);
      expect(await p.readFacts(['identity'])).toEqual([]);
      expect(reqs).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 120));
      await p.readFacts(['identity']);
      expect(reqs).toHaveLength(2);
      expect((await p.poll()).errors).toEqual([]); // the device is still fine for polling
    });
  });

  it('costs one timeout on a device that ignores FC43, then stops asking', async () => {
    const peer = await startPeer((req) => (req.pdu[0] === 43 ? null : modelHandler({})(req)));
    const p = new ModbusPoller(deviceConfig(peer.port, holdingTags(1), { timeout_ms: 150, retries: 3 }));
    try {
      const t0 = performance.now();
      expect(await p.readFacts(['identity'])).toEqual([]);
      expect(performance.now() - t0).toBeLessThan(400); // no retries for facts
      expect(await p.readFacts(['identity'])).toEqual([]);
      expect(peer.requests.filter((r) => r.pdu[0] === 43)).toHaveLength(1);
      expect((await p.poll()).errors).toEqual([]);
    } finally {
      await p.close();
      await peer.close();
    }
  });

  it('stops asking a device that drops the connection on FC43, and keeps polling it', async () => {
    const peer = await startPeer((req) => (req.pdu[0] === 43 ? (sock) => sock.destroy() : modelHandler({})(req)));
    const p = new ModbusPoller(deviceConfig(peer.port, holdingTags(1)));
    try {
      expect(await p.readFacts(['identity'])).toEqual([]);
      expect((await p.poll()).errors).toEqual([]); // reconnects
      expect(await p.readFacts(['identity'])).toEqual([]);
      expect(peer.requests.filter((r) => r.pdu[0] === 43)).toHaveLength(1);
      expect(peer.connections).toBe(2);
    } finally {
      await p.close();
      await peer.close();
    }
  });
});

describe('diagnostics (FC08 counters)', () => {
  it('reads every counter and how many requests the agent sent', async () => {
    await session({ counters: COUNTERS }, {}, async (p, reqs) => {
      await p.poll();
      await p.poll();
      const [fact] = await p.readFacts(['diagnostics']);
      expect(fact.kind).toBe('diagnostics');
      expect(fact.data).toEqual({
        bus_message_count: 100,
        bus_comm_error_count: 1,
        bus_exception_error_count: 2,
        server_message_count: 97,
        server_no_response_count: 0,
        server_nak_count: 0,
        server_busy_count: 3,
        bus_char_overrun_count: 0,
        // 2 polls + FC08 0x0B, 0x0C, 0x0D, 0x0E (the snapshot is taken at server_message_count)
        agent_requests_total: 6,
        agent_exception_answers_total: 0,
      });
      const subs = reqs.filter((r) => r.pdu[0] === 8).map((r) => r.pdu.readUInt16BE(1));
      expect(subs).toEqual([0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12]);
      expect(reqs.filter((r) => r.pdu[0] === 8).every((r) => r.pdu.readUInt16BE(3) === 0)).toBe(true);
    });
  });

  it('reads only the configured counters, one request each', async () => {
    await session({ counters: COUNTERS }, { diagnostics_counters: ['server_message_count', 'bus_message_count'] }, async (p, reqs) => {
      await p.poll();
      const [fact] = await p.readFacts(['diagnostics']);
      expect(fact.data).toEqual({ bus_message_count: 100, server_message_count: 97, agent_requests_total: 3, agent_exception_answers_total: 0 });
      expect(reqs.filter((r) => r.pdu[0] === 8).map((r) => r.pdu.readUInt16BE(1))).toEqual([0x0b, 0x0e]);
    });
  });

  it('skips counters a device refuses', async () => {
    await session({ counters: { 0x0b: 5, 0x0e: 4 } }, {}, async (p) => {
      const [fact] = await p.readFacts(['diagnostics']);
      expect(fact.data).toMatchObject({ bus_message_count: 5, server_message_count: 4 });
      expect(fact.data).not.toHaveProperty('bus_comm_error_count');
      expect(fact.data.agent_exception_answers_total).toBe(6);
    });
  });

  it('yields no fact from a device without FC08 and remembers it', async () => {
    await session({ counters: null }, {}, async (p, reqs) => {
      expect(await p.readFacts(['diagnostics'])).toEqual([]);
      expect(await p.readFacts(['diagnostics'])).toEqual([]);
      expect(reqs).toHaveLength(1);
    });
  });

  it('reads both kinds in one call', async () => {
    await session({ identity: FULL_ID, counters: COUNTERS }, {}, async (p) => {
      const facts = await p.readFacts(['identity', 'diagnostics']);
      expect(facts.map((f) => f.kind)).toEqual(['identity', 'diagnostics']);
    });
  });

  it('returns no facts, without throwing, when the device is unreachable', async () => {
    const peer = await startPeer(modelHandler({}));
    const port = peer.port;
    await peer.close();
    const p = new ModbusPoller(deviceConfig(port, holdingTags(1)));
    expect(await p.readFacts(['identity', 'diagnostics'])).toEqual([]);
    await p.close();
  });
});
