// Short version of the fault suite's Modbus fuzz (`npm run soak -- modbus-fuzz` feeds 1,000,000):
// random and mutated answers in both framings through the real link over loopback TCP. Nothing
// crashes or escapes, every answer ends as a rejection with a stable code or an answer that fits.
import { describe, expect, it } from 'vitest';
import { describeFuzz, fuzzHolds, runModbusFuzz } from '../../../bench/soak/modbus-fuzz.js';
import { MUTATIONS } from '../../../bench/soak/modbus-fuzz-peer.js';

const CODES = ['accepted_identical', 'accepted_altered', 'bad_response', 'modbus_exception', 'timeout', 'connection_lost'];

const RUNS = [
  { name: 'Modbus TCP, native link', framing: 'mbap', client: 'native', responses: 10_000, concurrency: 100 },
  { name: 'RTU over TCP, native link', framing: 'rtu', client: 'native', responses: 10_000, concurrency: 100 },
  // the library is slower: fewer links, or a loaded machine turns most answers into timeouts
  { name: 'Modbus TCP, modbus-serial fallback', framing: 'mbap', client: 'modbus-serial', responses: 2_000, concurrency: 20 },
] as const;

describe.each(RUNS)('fuzzed answers, $name', ({ framing, client, responses, concurrency }) => {
  it(`${responses} answers: each rejected with a stable code or accepted only when it fits`, async () => {
    const r = await runModbusFuzz({ framing, client, responses, concurrency, seed: 42, timeoutMs: 100 });
    const figures = describeFuzz(r).join('\n');
    expect(r.fed).toBe(responses);
    expect(r.uncaught).toBe(0);
    expect(r.notModbusErrors).toBe(0);
    expect(r.acceptedMisfits, figures).toBe(0);
    expect(Object.keys(r.outcomes).filter((k) => !CODES.includes(k))).toEqual([]);
    expect(Object.values(r.outcomes).reduce((a, b) => a + b, 0)).toBe(r.fed);
    // every mutation was tried, and most answers were refused
    expect(Object.keys(r.mutations).sort()).toEqual([...MUTATIONS].sort());
    expect(r.outcomes.bad_response, figures).toBeGreaterThan(r.fed / 3);
    expect(fuzzHolds(r, 200), figures).toBe(true);
  });
});
