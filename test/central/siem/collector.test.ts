// Collector behaviours beyond up and down, against plain TCP servers: one that closes idle
// connections (many do after a timeout) is not an outage: the output reconnects quietly when it
// has something to send, logs no "down", loses and repeats nothing (frames read per RFC 6587);
// one that accepts but never answers the TLS handshake does not hold up stop().
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CentralFeed } from '../../../agent/central/feed.js';
import { SimAgent } from '../../../bench/central/simagent.js';
import { parseCef } from './cefparse.js';
import { addSignals, captureLog, makeOutput, outputConfig, tempStore, until } from './fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Reads `LEN SP MSG` frames from each connection; `closeIdle` ends a connection after it was quiet that long. */
async function frameServer(closeIdle_ms: number): Promise<{ port: number; messages: string[]; connections: () => number; close: () => Promise<void> }> {
  const messages: string[] = [];
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = Buffer.alloc(0);
    let idle = setTimeout(() => sock.end(), closeIdle_ms);
    sock.on('data', (d: Buffer) => {
      clearTimeout(idle);
      idle = setTimeout(() => sock.end(), closeIdle_ms);
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString('latin1'));
        if (!Number.isInteger(len) || len <= 0) throw new Error(`bad frame length ${buf.subarray(0, sp).toString('latin1')}`);
        if (buf.length < sp + 1 + len) break;
        messages.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
        buf = buf.subarray(sp + 1 + len);
      }
    });
    sock.on('close', () => clearTimeout(idle));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    messages,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

describe('SIEM output and a collector that closes idle connections', () => {
  it('reconnects quietly, loses nothing, repeats nothing', async () => {
    const srv = await frameServer(150);
    cleanup.push(() => srv.close());
    const t = await tempStore();
    cleanup.push(() => t.close());
    const feed = new CentralFeed();
    const { log, lines } = captureLog();
    const out = makeOutput(t.store, outputConfig({ name: 'idle', port: srv.port, confirm_ms: 50 }), { log, feed });
    await out.start();
    cleanup.push(() => out.stop());
    const agent = new SimAgent('plant-a', 'gw-1');
    const expected: string[] = [];
    for (let round = 1; round <= 3; round++) {
      expected.push(...(await addSignals(t.store, agent, 10, feed)).map((s) => s.signal.id));
      await until(() => srv.messages.length === expected.length, `${expected.length} messages`);
      // Wait for the collector to close this connection as idle before the next round.
      await until(() => !out.stats.connected, `the idle close of round ${round}`);
    }
    expect(srv.messages.map((m) => parseCef(m).ext.externalId)).toEqual(expected);
    expect(srv.connections()).toBe(3);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(out.stats.resent).toBe(0);
  });
});

describe('SIEM output stopping while a collector does not answer', () => {
  it('stop() aborts the connection attempt instead of waiting for connect_timeout_ms', async () => {
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((sock) => void sockets.add(sock)); // accepts, never speaks TLS
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      srv.close(() => r());
    }));
    const t = await tempStore();
    cleanup.push(() => t.close());
    const { log, lines } = captureLog();
    // connect_timeout_ms far beyond the test's own timeout: only the abort can end stop() in time.
    const out = makeOutput(t.store, outputConfig({ name: 'mute', port: (srv.address() as net.AddressInfo).port, tls: {}, connect_timeout_ms: 600_000 }), { log });
    await out.start();
    await until(() => sockets.size === 1, 'the TLS connection attempt');
    await out.stop();
    expect(out.stats.connected).toBe(false);
    expect(lines.filter((l) => /is down/.test(l.msg))).toEqual([]);
  });
});
