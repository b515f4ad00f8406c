// Throughput self-check of the Modbus server: raw clients keep requests in flight for a few seconds
// and count answers. `node dist/simulators/modbus/selfcheck.js [--child]` prints the figures
// (--child runs the server in its own process, so client and server do not share one event loop).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc16 } from './crc.js';
import type { Framing } from './framing.js';
import { benchSimulatorConfig, startModbusSimulator } from './index.js';

export interface ThroughputOptions {
  connections?: number;
  /** requests outstanding per connection (1 = strict request/response, like one agent device) */
  inflight?: number;
  duration_ms?: number;
  framing?: Framing;
  /** registers per FC03 read */
  quantity?: number;
  /** an already running server; default: one bench PLC started in this process */
  host?: string;
  port?: number;
  unit_id?: number;
}

export interface ThroughputResult {
  framing: Framing;
  connections: number;
  inflight: number;
  requests: number;
  seconds: number;
  per_second: number;
}

function request(framing: Framing, unitId: number, tid: number, quantity: number): Buffer {
  if (framing === 'tcp') {
    const b = Buffer.from([0, 0, 0, 0, 0, 6, unitId, 3, 0, 0, 0, quantity]);
    b.writeUInt16BE(tid & 0xffff, 0);
    return b;
  }
  const b = Buffer.from([unitId, 3, 0, 0, 0, quantity, 0, 0]);
  const crc = crc16(b, 0, 6);
  b[6] = crc & 0xff;
  b[7] = crc >>> 8;
  return b;
}

function drive(host: string, port: number, o: Required<Pick<ThroughputOptions, 'inflight' | 'framing' | 'quantity' | 'unit_id'>>, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let answered = 0;
    let tid = 0;
    let buf: Buffer = Buffer.alloc(0);
    const responseLength = o.framing === 'tcp' ? 0 : 5 + 2 * o.quantity;
    const socket = net.connect({ host, port, noDelay: true }, () => {
      const first: Buffer[] = [];
      for (let i = 0; i < o.inflight; i++) first.push(request(o.framing, o.unit_id, tid++, o.quantity));
      socket.write(Buffer.concat(first));
    });
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let off = 0;
      let got = 0;
      for (;;) {
        const len = o.framing === 'tcp' ? (buf.length - off >= 6 ? 6 + buf.readUInt16BE(off + 4) : Infinity) : responseLength;
        if (buf.length - off < len) break;
        off += len;
        got++;
      }
      buf = buf.subarray(off);
      answered += got;
      if (Date.now() >= deadline) {
        socket.destroy();
        resolve(answered);
        return;
      }
      if (got > 0) {
        const next: Buffer[] = [];
        for (let i = 0; i < got; i++) next.push(request(o.framing, o.unit_id, tid++, o.quantity));
        socket.write(next.length === 1 ? next[0] : Buffer.concat(next));
      }
    });
  });
}

export async function measureThroughput(opts: ThroughputOptions = {}): Promise<ThroughputResult> {
  const o = {
    connections: opts.connections ?? 1,
    inflight: opts.inflight ?? 1,
    duration_ms: opts.duration_ms ?? 3000,
    framing: opts.framing ?? 'tcp',
    quantity: opts.quantity ?? 10,
    unit_id: opts.unit_id ?? 1,
  };
  const sim = opts.port === undefined ? await startModbusSimulator(benchSimulatorConfig({ plcs: 1, registers: 100, framing: o.framing })) : null;
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? sim!.plcs[0].port;
  try {
    const t0 = Date.now();
    const counts = await Promise.all(Array.from({ length: o.connections }, () => drive(host, port, o, t0 + o.duration_ms)));
    const seconds = (Date.now() - t0) / 1000;
    const requests = counts.reduce((a, b) => a + b, 0);
    return { framing: o.framing, connections: o.connections, inflight: o.inflight, requests, seconds, per_second: Math.round(requests / seconds) };
  } finally {
    await sim?.stop();
  }
}

/** Start child.js (next to this file) with one bench PLC; resolves with its port. */
async function startChild(framing: Framing): Promise<{ port: number; child: ChildProcess }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-selfcheck-'));
  const file = path.join(dir, 'sim.json');
  fs.writeFileSync(file, JSON.stringify(benchSimulatorConfig({ plcs: 1, registers: 100, framing })));
  const child = spawn(process.execPath, [fileURLToPath(new URL('./child.js', import.meta.url)), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code}`)));
  });
  const msg = JSON.parse(line) as { ready: boolean; plcs: Array<{ port: number }> };
  return { port: msg.plcs[0].port, child };
}

async function main(): Promise<void> {
  const inChild = process.argv.includes('--child');
  const runs: Array<Pick<ThroughputOptions, 'connections' | 'inflight' | 'framing'>> = [
    { connections: 1, inflight: 1, framing: 'tcp' },
    { connections: 4, inflight: 1, framing: 'tcp' },
    { connections: 4, inflight: 8, framing: 'tcp' },
    { connections: 4, inflight: 1, framing: 'rtu_over_tcp' },
  ];
  process.stdout.write(`Modbus simulator throughput (FC03, 10 registers, ${inChild ? 'server in a child process' : 'server and clients in one process'}, ${os.cpus().length} CPUs)\n`);
  for (const r of runs) {
    const child = inChild ? await startChild(r.framing!) : null;
    const res = await measureThroughput({ ...r, duration_ms: 3000, ...(child ? { port: child.port } : {}) });
    child?.child.kill('SIGTERM');
    process.stdout.write(`${res.framing.padEnd(13)} connections ${res.connections}  in flight ${res.inflight}  ${res.per_second} requests/s\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
