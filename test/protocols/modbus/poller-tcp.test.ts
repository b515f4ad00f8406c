// Poller integration over real TCP: values, facts, pacing and one-request-in-flight, against
// modbus-serial's ServerTCP and against the scriptable peer, with both Modbus TCP clients.
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { tcpLink } from '../../../protocols/modbus/tcp-link.js';
import { freePort } from '../../helpers/ports.js';
import { deviceConfig, holdingTags, modelHandler, startPeer } from './peers.js';

const TAGS = [
  { name: 'speed', area: 'holding_register', address: 0 },
  { name: 'temp', area: 'holding_register', address: 1, type: 'int16', scale: 0.1 },
  { name: 'flow', area: 'holding_register', address: 2, type: 'float32' },
  { name: 'flow_cdab', area: 'holding_register', address: 4, type: 'float32', word_order: 'little' },
  { name: 'count', area: 'input_register', address: 10, type: 'uint32' },
  { name: 'alarm_bit', area: 'input_register', address: 12, bit: 3 },
  { name: 'pump_on', area: 'coil', address: 5 },
  { name: 'door_open', area: 'discrete_input', address: 7 },
];

/** Register map of the ServerTCP vector: the values TAGS decode to. */
const HOLDING: Record<number, number> = { 0: 1500, 1: 0xff9c, 2: 0x42f6, 3: 0xe979, 4: 0xe979, 5: 0x42f6 };
const INPUT: Record<number, number> = { 10: 0x0001, 11: 0x0002, 12: 0x0008 };
const EXPECTED = {
  speed: 1500,
  temp: -10,
  flow: Math.fround(123.456),
  flow_cdab: Math.fround(123.456),
  count: 0x00010002,
  alarm_bit: true,
  pump_on: true,
  door_open: false,
};

describe.each(['native', 'modbus-serial'] as const)('poller with the %s client against modbus-serial ServerTCP', (client) => {
  let server: InstanceType<typeof ModbusSerial.ServerTCP>;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    const vector = {
      getHoldingRegister: (addr: number) => HOLDING[addr] ?? 0,
      getInputRegister: (addr: number) => INPUT[addr] ?? 0,
      getCoil: (addr: number) => addr === 5,
      getDiscreteInput: (addr: number) => addr === 6,
      readDeviceIdentification: () => ({ 0: 'ACME Controls', 1: 'PLC-9', 2: 'v2.1', 4: 'Pump Station', 5: 'PS-100' }),
    };
    server = new ModbusSerial.ServerTCP(vector, { host: '127.0.0.1', port, unitID: 1 });
    await new Promise<void>((resolve) => server.on('initialized', () => resolve()));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads and decodes every area and type', async () => {
    const p = new ModbusPoller(deviceConfig(port, TAGS, { max_gap_registers: 2 }, { client }));
    try {
      const before = Date.now();
      const r = await p.poll();
      expect(r.errors).toEqual([]);
      expect(r.requests).toBe(p.requestsPerPoll);
      expect(p.requestsPerPoll).toBe(4); // coils, discrete inputs, holding 0..5, input 10..12
      const values = Object.fromEntries(r.samples.map((s) => [s.tag, s.value]));
      expect(values).toEqual({ ...EXPECTED, temp: values.temp });
      expect(values.temp).toBeCloseTo(-10, 10);
      for (const s of r.samples) {
        expect(s).toMatchObject({ device: 'dev1', quality: 'good' });
        expect(s.ts).toBeGreaterThanOrEqual(before);
        expect(s.rtt_ms).toBeGreaterThanOrEqual(0);
        expect(s.rtt_ms).toBeLessThan(300);
      }
    } finally {
      await p.close();
    }
  });

  it('reads the FC43 identity, and remembers that FC08 is not supported', async () => {
    const p = new ModbusPoller(deviceConfig(port, TAGS, {}, { client }));
    try {
      const facts = await p.readFacts(['identity', 'diagnostics']);
      expect(facts).toHaveLength(1);
      expect(facts[0]).toMatchObject({
        device: 'dev1',
        kind: 'identity',
        data: { vendor: 'ACME Controls', product_code: 'PLC-9', revision: 'v2.1', product_name: 'Pump Station', model_name: 'PS-100' },
      });
      const sent = p.requestsTotal;
      expect(await p.readFacts(['diagnostics'])).toEqual([]);
      expect(p.requestsTotal).toBe(sent); // not asked again before unsupported_recheck_ms
    } finally {
      await p.close();
    }
  });

  it('keeps working past the transaction id wrap of modbus-serial (256)', async () => {
    const p = new ModbusPoller(deviceConfig(port, [{ name: 'speed', area: 'holding_register', address: 0 }], {}, { client }));
    try {
      for (let i = 0; i < 300; i++) {
        const r = await p.poll();
        expect(r.errors).toEqual([]);
        expect(r.samples[0].value).toBe(1500);
      }
    } finally {
      await p.close();
    }
  });
});

describe('poller against the scriptable peer', () => {
  it('wraps the 16-bit Modbus TCP transaction id', async () => {
    const peer = await startPeer(modelHandler({}));
    const link = tcpLink({ host: '127.0.0.1', port: peer.port, framing: 'mbap', unitId: 1, timeoutMs: 300, lastTransactionId: 65533 });
    const p = new ModbusPoller(deviceConfig(peer.port, holdingTags(2)), { link });
    try {
      await p.connect();
      for (let i = 0; i < 5; i++) expect((await p.poll()).errors).toEqual([]);
      expect(peer.requests.map((r) => r.tid)).toEqual([65534, 65535, 0, 1, 2]);
    } finally {
      await p.close();
      await peer.close();
    }
  });

  it('never has two requests in flight, even when polls and fact reads overlap', async () => {
    const peer = await startPeer(modelHandler({ identity: { 0: 'V', 1: 'P', 2: 'R' }, counters: { 0x0b: 1, 0x0c: 0, 0x0d: 0, 0x0e: 1 } }), { delayMs: 5 });
    const tags = [...holdingTags(3), { name: 'far', area: 'holding_register', address: 500 }, { name: 'c', area: 'coil', address: 1 }];
    const p = new ModbusPoller(deviceConfig(peer.port, tags));
    try {
      const jobs = [p.poll(), p.poll(), p.readFacts(['identity', 'diagnostics']), p.poll()];
      const results = await Promise.all(jobs);
      expect(peer.maxInFlight).toBe(1);
      expect(peer.connections).toBe(1);
      for (const r of [results[0], results[1], results[3]] as Awaited<ReturnType<typeof p.poll>>[]) expect(r.errors).toEqual([]);
      expect(peer.requests).toHaveLength(3 * p.requestsPerPoll + 1 + 8); // FC43 once, FC08 for all 8 counters
    } finally {
      await p.close();
      await peer.close();
    }
  });

  it('pauses between requests when asked to', async () => {
    const peer = await startPeer(modelHandler({}));
    const tags = [{ name: 'a', area: 'holding_register', address: 0 }, { name: 'b', area: 'holding_register', address: 100 }, { name: 'c', area: 'coil', address: 0 }];
    const p = new ModbusPoller(deviceConfig(peer.port, tags, { pause_between_requests_ms: 60 }));
    try {
      await p.poll();
      await p.poll();
      const at = peer.requests.map((r) => r.at);
      expect(at).toHaveLength(6);
      for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(55);
    } finally {
      await p.close();
      await peer.close();
    }
  });

  it('connect() and close() are idempotent, and a closed poller reconnects on poll', async () => {
    const peer = await startPeer(modelHandler({}));
    const p = new ModbusPoller(deviceConfig(peer.port, holdingTags(1)));
    try {
      await Promise.all([p.connect(), p.connect()]);
      await p.connect();
      expect(peer.connections).toBe(1);
      expect(p.isConnected()).toBe(true);
      await p.close();
      await p.close();
      expect(p.isConnected()).toBe(false);
      const r = await p.poll();
      expect(r.errors).toEqual([]);
      expect(peer.connections).toBe(2);
    } finally {
      await p.close();
      await peer.close();
    }
  });

  it('marks NaN and infinite floats bad with a reason', async () => {
    const words: Record<number, number> = { 0: 0x7fc0, 1: 0, 2: 0x7f80, 3: 0, 4: 0x3f80, 5: 0 };
    const peer = await startPeer(modelHandler({ holding: (a) => words[a] ?? 0 }));
    const tags = [0, 2, 4].map((a) => ({ name: `f${a}`, area: 'holding_register', address: a, type: 'float32' }));
    const p = new ModbusPoller(deviceConfig(peer.port, tags));
    try {
      const r = await p.poll();
      expect(r.samples.map((s) => [s.tag, s.value, s.quality, s.reason])).toEqual([
        ['f0', null, 'bad', 'float32 value is NaN'],
        ['f2', null, 'bad', 'float32 value is +Infinity'],
        ['f4', 1, 'good', undefined],
      ]);
    } finally {
      await p.close();
      await peer.close();
    }
  });
});
