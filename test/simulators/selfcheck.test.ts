// The throughput self-check runs and reports a figure (printed, never asserted as a timing).
import { describe, expect, it } from 'vitest';
import { measureThroughput } from '../../simulators/modbus/selfcheck.js';

describe('throughput self-check', () => {
  it.each(['tcp', 'rtu_over_tcp'] as const)('answers pipelined FC03 reads over %s', async (framing) => {
    const r = await measureThroughput({ framing, connections: 2, inflight: 4, duration_ms: 1500 });
    console.log(`${framing}: ${r.per_second} requests/s (2 connections x 4 in flight, client in the same process)`);
    expect(r.requests).toBeGreaterThan(100);
  });
});
