// The read-only invariant: no write function anywhere on the Modbus surface, and a whole session
// sends nothing but reads, FC08 counter reads (0x0B..0x12) and FC43/14.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { deviceConfig, modelHandler, startPeer } from './peers.js';

const MODBUS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../protocols/modbus');

/** Every property name on an object and its prototype chain (own, inherited, non-enumerable). */
function allNames(obj: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = obj; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Reflect.ownKeys(o)) names.add(String(k));
  }
  return [...names];
}

const TAGS = [
  { name: 'h', area: 'holding_register', address: 0 },
  { name: 'i', area: 'input_register', address: 0 },
  { name: 'c', area: 'coil', address: 0 },
  { name: 'd', area: 'discrete_input', address: 0 },
];

describe.each(['native', 'modbus-serial'] as const)('read-only surface, %s client', (client) => {
  it('the poller and its link have no property whose name starts with "write"', () => {
    const p = new ModbusPoller(deviceConfig(1, TAGS, {}, { client }));
    expect(allNames(p).filter((n) => /^write/i.test(n))).toEqual([]);
    const link = (p as unknown as { link: object }).link;
    expect(allNames(link).filter((n) => /^write/i.test(n))).toEqual([]);
  });

  it('a whole session sends only read requests', async () => {
    const counters = { 0x0b: 1, 0x0c: 0, 0x0d: 0, 0x0e: 1, 0x0f: 0, 0x10: 0, 0x11: 0, 0x12: 0 };
    const peer = await startPeer(modelHandler({ identity: { 0: 'v', 1: 'p', 2: 'r' }, counters }));
    const p = new ModbusPoller(deviceConfig(peer.port, TAGS, {}, { client }));
    try {
      await p.poll();
      await p.readFacts(['identity', 'diagnostics']);
      await p.poll();
      expect(peer.requests.length).toBeGreaterThan(10);
      for (const { pdu } of peer.requests) {
        const fc = pdu[0];
        expect([1, 2, 3, 4, 8, 43]).toContain(fc);
        if (fc === 8) {
          const sub = pdu.readUInt16BE(1);
          expect(sub >= 0x0b && sub <= 0x12, `FC08 sub-function 0x${sub.toString(16)}`).toBe(true);
        }
        if (fc === 43) expect(pdu[1]).toBe(0x0e);
      }
    } finally {
      await p.close();
      await peer.close();
    }
  });
});

describe('module exports', () => {
  it('no module under protocols/modbus exports a write function', async () => {
    const files = fs.readdirSync(MODBUS_DIR).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const mod = (await import(path.join(MODBUS_DIR, f))) as Record<string, unknown>;
      const writes = Object.keys(mod).filter((k) => /^write/i.test(k));
      expect(writes, f).toEqual([]);
      for (const [name, value] of Object.entries(mod)) {
        if (typeof value === 'function' && value.prototype) {
          const proto = Object.getOwnPropertyNames(value.prototype).filter((k) => /^write/i.test(k));
          expect(proto, `${f}: ${name}`).toEqual([]);
        }
      }
    }
  });
});
