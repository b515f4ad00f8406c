// Fault suite, OPC UA: an endpoint that answers the agent's HEL with garbage (random bytes, a
// truncated or oversized ACK, an ERR with a runaway reason, HTTP, a valid ACK then a garbage OPN
// answer, an endless stream). The real OpcuaPoller reports each as a clear error and never throws
// out of poll(); under the real scheduler the device is reported unreachable, the reconnect
// backoff is kept, and nothing escapes as an uncaught error.
import crypto from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../protocols/log.js';
import { DeviceScheduler, type CycleOutput } from '../../../agent/scheduler.js';
import { OpcuaPoller } from '../../../protocols/opcua/poller.js';
import { agentPkiDir, ensureAgentCertificate, openCertificateManager } from '../../../protocols/opcua/pki.js';
import { uaAck, uaHeader } from '../../../bench/soak/faults/opcua-garbage.js';
import { opcuaDevice, tempDir } from './helpers.js';

type Variant = (s: net.Socket) => void;

/** Deterministic junk, so a failure can be replayed. */
const junk = (n: number, seed: string) => {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 32) crypto.createHash('sha256').update(`${seed}:${i}`).digest().copy(out, i);
  return out;
};

/** Answer the first data (the HEL) with `reply`. */
const onHello = (reply: (s: net.Socket) => void): Variant => (s) => s.once('data', () => reply(s));

const VARIANTS: Record<string, Variant> = {
  'random bytes': onHello((s) => s.write(junk(256, 'random'))),
  'random bytes, then close': onHello((s) => s.end(junk(100, 'close'))),
  'truncated ACK': onHello((s) => s.write(uaAck().subarray(0, 15))),
  'ACK claiming 4 GB': onHello((s) => s.write(Buffer.concat([uaHeader('ACK', 0xfffffff0), junk(64 * 1024, 'big')]))),
  'ACK shorter than its header': onHello((s) => s.write(uaHeader('ACK', 4))),
  'ERR with a runaway reason': onHello((s) => {
    const body = Buffer.alloc(8);
    body.writeUInt32LE(0x80000000, 0);
    body.writeInt32LE(0x7ffffff0, 4); // reason string length: far beyond the frame
    s.write(Buffer.concat([uaHeader('ERR', 16 + 32), body, junk(32, 'err')]));
  }),
  'HTTP answer': onHello((s) => s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')),
  'talks first': (s) => s.write(junk(64, 'first')),
  'closes on HEL': onHello((s) => s.destroy()),
  'valid ACK, garbage OPN answer': (s) => {
    s.once('data', () => {
      s.write(uaAck());
      s.once('data', () => s.write(Buffer.concat([uaHeader('OPN', 200), junk(192, 'opn')])));
    });
  },
  'endless stream': onHello((s) => {
    const chunk = junk(64 * 1024, 'flood');
    let sent = 0;
    const pump = () => {
      while (sent < 32 * 1024 * 1024 && s.writable && s.write(chunk)) sent += chunk.length;
    };
    s.on('drain', pump);
    pump();
  }),
};

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const accepted = new Map<string, number>();
const ports = new Map<string, number>();
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
const dir = tempDir('ua-garbage');

beforeAll(async () => {
  // The agent certificate is made once, as at an agent's first start.
  const cm = await openCertificateManager(agentPkiDir(dir));
  await ensureAgentCertificate(cm);
  await cm.dispose();
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  for (const [name, variant] of Object.entries(VARIANTS)) {
    accepted.set(name, 0);
    const server = net.createServer((s) => {
      accepted.set(name, accepted.get(name)! + 1);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      variant(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports.set(name, (server.address() as net.AddressInfo).port);
    servers.push(server);
  }
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function device(name: string) {
  return opcuaDevice(`ua-${name.replace(/\W+/g, '-')}`, `opc.tcp://127.0.0.1:${ports.get(name)}`, {
    security_mode: 'None',
    security_policy: 'None',
    auth: { type: 'anonymous' },
    interval_ms: 200,
    timeout_ms: 150,
    connect_timeout_ms: 600,
    reconnect_min_ms: 100,
    reconnect_max_ms: 400,
    degrade_after_failures: 1000,
    tags: [{ name: 'level', node_id: 'ns=1;s=level' }],
  });
}

describe('garbage from an OPC UA endpoint', () => {
  // What each is reported as: an immediate garbage answer is not a timeout nor a certificate refusal.
  const EXPECTED: Record<string, string[]> = {
    'random bytes': ['bad_response'],
    'random bytes, then close': ['bad_response', 'connection_lost'],
    'truncated ACK': ['timeout'], // the rest never comes
    'ACK claiming 4 GB': ['bad_response'],
    'ACK shorter than its header': ['bad_response'],
    'ERR with a runaway reason': ['bad_response'],
    'HTTP answer': ['bad_response'],
    'talks first': ['bad_response'],
    'closes on HEL': ['connection_lost'],
    'valid ACK, garbage OPN answer': ['timeout'], // node-opcua waits for a well-formed OPN answer
    'endless stream': ['bad_response'],
  };

  it.each(Object.keys(VARIANTS))('%s: connect rejects with a clear error, poll reports it and never throws', { timeout: 15_000 }, async (name) => {
    const dev = device(name);
    const p = new OpcuaPoller(dev, { pkiDir: agentPkiDir(dir), logger: silentLogger });
    try {
      const err = await p.connect().then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err).toBeDefined();
      expect(EXPECTED[name]).toContain(err!.code);
      expect(err!.message).toContain(dev.endpoint_url);
      if (err!.code === 'bad_response') expect(err!.message).toMatch(/did not answer as an OPC UA server .*check the port in endpoint_url$/);
      expect(err!.message.length).toBeLessThan(400);
      expect(p.isConnected()).toBe(false);
      const r = await p.poll();
      expect(r.samples.map((s) => [s.tag, s.quality])).toEqual([['level', 'bad']]);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0].message).toContain(dev.endpoint_url);
    } finally {
      await p.close();
    }
    expect(uncaught).toEqual([]);
  });

  it('under the scheduler: unreachable with the cause, reconnects on its backoff, nothing uncaught', { timeout: 20_000 }, async () => {
    const names = ['random bytes', 'ACK claiming 4 GB', 'valid ACK, garbage OPN answer'];
    const links = (outs: CycleOutput[]) => outs.flatMap((o) => o.facts.filter((f) => f.kind === 'link'));
    // Enough cycles that attempts and the slots between them both show.
    let enough: () => void = () => undefined;
    const allEnough = new Promise<void>((resolve) => (enough = resolve));
    const runs = names.map((name) => {
      const dev = device(name);
      const outs: CycleOutput[] = [];
      const sink = (o: CycleOutput) => {
        outs.push(o);
        if (runs.every((r) => links(r.outs).length >= 8)) enough();
      };
      const s = new DeviceScheduler(new OpcuaPoller(dev, { pkiDir: agentPkiDir(dir), logger: silentLogger }), dev, sink, silentLogger);
      return { name, s, outs, before: accepted.get(name)! };
    });
    for (const r of runs) r.s.start();
    await allEnough;
    await Promise.all(runs.map((r) => r.s.stop()));
    for (const r of runs) {
      const l = links(r.outs);
      expect(l.length, r.name).toBeGreaterThanOrEqual(8);
      expect(l.every((f) => f.data.reachable === false && EXPECTED[r.name].includes(String(f.data.error_code)))).toBe(true);
      expect(r.s.health.failed_cycles).toBe(r.s.health.cycles);
      expect(r.s.health.loop_restarts).toBe(0);
      expect(r.s.health.last_error).toMatch(/opc\.tcp:\/\/127\.0\.0\.1:\d+/);
      // Backoff: fewer connection attempts than poll slots; the slots between report the last cause.
      expect(accepted.get(r.name)! - r.before).toBeLessThan(l.length);
    }
    expect(uncaught).toEqual([]);
  });
});
