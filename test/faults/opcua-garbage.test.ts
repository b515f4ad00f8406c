// Fault suite, short version: garbage from an OPC UA endpoint. 60 connects of the real poller to
// an endpoint answering with random and mutated frames (`npm run soak -- opcua-garbage` runs 3,000).
import { describe, expect, it } from 'vitest';
import { runOpcuaGarbage } from '../../bench/soak/faults/opcua-garbage.js';

describe('fault: garbage from an OPC UA endpoint', () => {
  it('every connect is a stable error; poll never throws; nothing uncaught; no session', { timeout: 120_000 }, async () => {
    const f = await runOpcuaGarbage({ attempts: 60, say: (l) => console.info(`opcua-garbage: ${l}`) });
    expect(f.uncaught).toEqual([]);
    expect(f.accepted).toBe(0);
    expect(f.pollThrows).toBe(0);
    expect(Object.keys(f.codes).filter((c) => !['bad_response', 'connection_lost', 'timeout', 'connect_refused'].includes(c))).toEqual([]);
    expect(Object.values(f.codes).reduce((a, b) => a + b, 0)).toBe(60);
    // garbage that answers at once is named as such, not as a timeout
    expect(f.codes.bad_response).toBeGreaterThan(10);
    expect(f.ok).toBe(true);
  });
});
