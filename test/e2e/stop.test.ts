// SIGTERM stops a real agent process promptly even when its broker and its PLC accept the TCP
// connection and then never answer: the stop is bounded in `run` (5 s, see the README).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, tempDir, until, withOutput, writeAgentConfig, type AgentProcess } from './harness.js';

/** The bound in agent/cli.ts, plus room for a loaded machine; the agent without it needs far longer. */
const STOP_BOUND_MS = 5000;
const SLACK_MS = 7000;

interface HangServer {
  port: number;
  /** bytes received so far, from all connections */
  received: number;
  close(): Promise<void>;
}

/**
 * Accepts connections and never answers, except for what `reply` returns for a chunk (once per
 * connection): the broker's CONNACK, so that the agent believes it is connected.
 */
async function hangServer(reply?: (chunk: Buffer) => Buffer | undefined): Promise<HangServer> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    let answered = false;
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (chunk: Buffer) => {
      state.received += chunk.length;
      const answer = answered ? undefined : reply?.(chunk);
      if (answer) {
        answered = true;
        s.write(answer);
      }
    });
  });
  const state: HangServer = {
    port: 0,
    received: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  state.port = (srv.address() as net.AddressInfo).port;
  return state;
}

/** CONNACK "accepted" for an MQTT CONNECT, in the client's protocol version; nothing after it. */
function connack(chunk: Buffer): Buffer | undefined {
  if (chunk[0] >> 4 !== 1) return undefined;
  const name = chunk.indexOf('MQTT');
  const level = name < 0 ? 4 : chunk[name + 4];
  return level === 5 ? Buffer.from([0x20, 3, 0, 0, 0]) : Buffer.from([0x20, 2, 0, 0]);
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('agent stop', () => {
  it('exits on SIGTERM within the bound while broker and PLC accept and never answer', { timeout: 60_000 }, async () => {
    const broker = await hangServer(connack);
    const plc = await hangServer();
    cleanup.push(() => broker.close(), () => plc.close());
    const dir = tempDir('stop-hang');
    // One read per cycle with a timeout as long as the interval: at SIGTERM a read is in flight,
    // and the broker, connected, never acks the retained status nor the offline status at stop.
    const config = writeAgentConfig(dir, {
      brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
      plcs: [{ id: 'hung-plc', host: '127.0.0.1', port: plc.port }],
      device: { timeout_ms: 10_000, interval_ms: 10_000, diagnostics_interval_ms: 0, tags: [{ name: 'level', area: 'input_register', address: 0, type: 'float32' }] },
    });
    const agent: AgentProcess = startAgent(config);
    cleanup.push(() => agent.kill('SIGKILL'));
    await withOutput(agent, until(() => agent.output().includes('Connected to the broker.') && plc.received > 0, 30_000, 'the agent connected to the broker and a read sent to the PLC'));

    const t0 = performance.now();
    agent.child.kill('SIGTERM');
    const exit = await withOutput(
      agent,
      Promise.race([agent.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within ${STOP_BOUND_MS + SLACK_MS} ms of SIGTERM`)), STOP_BOUND_MS + SLACK_MS))]),
    );
    const ms = Math.round(performance.now() - t0);
    console.log(`stop with a hung broker and PLC: exit ${exit} after ${ms} ms`);
    expect(exit).toBe(0);
    expect(agent.output()).toMatch(/Stopping\./);
    expect(agent.output()).toMatch(/Agent stopped\.|Committed events are safe in the outbox/);
  });
});
