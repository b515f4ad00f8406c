// Interoperability: the poller against pymodbus 3.0 (a Modbus implementation we did not write),
// over Modbus TCP (both clients), RTU over TCP, and RTU over a serial line (a socat pty pair).
// Skips, saying why, when /usr/bin/python3 with pymodbus (or socat, pyserial) is not installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modbusDeviceSchema } from '../../../protocols/modbus/config.js';
import { ModbusPoller } from '../../../protocols/modbus/poller.js';
import { freePort } from '../../helpers/ports.js';

const PY = process.env.OTSENTRY_TEST_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pymodbus_server.py');

function missing(checks: [string, () => boolean][]): string | null {
  for (const [why, ok] of checks) if (!ok()) return why;
  return null;
}
const pyHas = (mod: string) => () => spawnSync(PY, ['-c', `import ${mod}`], { stdio: 'ignore' }).status === 0;
const tcpSkip = missing([
  [`${PY} not found`, () => fs.existsSync(PY)],
  [`pymodbus not importable by ${PY}`, pyHas('pymodbus.server')],
]);
const serialSkip =
  tcpSkip ??
  missing([
    ['socat not found', () => spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0],
    [`pyserial-asyncio not importable by ${PY}`, pyHas('serial_asyncio')],
  ]);
if (tcpSkip) console.log(`skipping pymodbus interop tests: ${tcpSkip}`);
else if (serialSkip) console.log(`skipping pymodbus serial test: ${serialSkip}`);

const TAGS = [
  { name: 'h0', area: 'holding_register', address: 0 },
  { name: 'h9', area: 'holding_register', address: 9 },
  { name: 'flow', area: 'holding_register', address: 10, type: 'float32' },
  { name: 'delta', area: 'holding_register', address: 12, type: 'int32' },
  { name: 'in0', area: 'input_register', address: 0 },
  { name: 'in5', area: 'input_register', address: 5, scale: 0.5 },
  { name: 'c0', area: 'coil', address: 0 },
  { name: 'c1', area: 'coil', address: 1 },
  { name: 'c3', area: 'coil', address: 3 },
  { name: 'd0', area: 'discrete_input', address: 0 },
  { name: 'd1', area: 'discrete_input', address: 1 },
];
const EXPECTED = { h0: 100, h9: 109, flow: Math.fround(123.456), delta: -2, in0: 200, in5: 102.5, c0: true, c1: false, c3: true, d0: false, d1: true };
const IDENTITY = { vendor: 'PyModbus Test Vendor', product_code: 'PM-1', revision: '3.0.0', product_name: 'Interop Server', model_name: 'Model 3000', vendor_url: 'https://example.invalid/pymodbus' };

function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
}

/** Poll until the server answers (python takes a moment to start). */
async function pollWhenUp(p: ModbusPoller, ms = 15000): Promise<Awaited<ReturnType<ModbusPoller['poll']>>> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await p.poll();
    if (r.errors.length === 0 || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function checkDevice(transport: Record<string, unknown>): Promise<void> {
  const cfg = modbusDeviceSchema.parse({ id: 'py', protocol: 'modbus', timeout_ms: 1000, retries: 0, transport, tags: TAGS });
  const p = new ModbusPoller(cfg);
  try {
    const r = await pollWhenUp(p);
    expect(r.errors).toEqual([]);
    expect(Object.fromEntries(r.samples.map((s) => [s.tag, s.value]))).toEqual(EXPECTED);
    expect(r.samples.every((s) => s.quality === 'good')).toBe(true);
    const facts = await p.readFacts(['identity', 'diagnostics']);
    const identity = facts.find((f) => f.kind === 'identity');
    expect(identity?.data).toMatchObject(IDENTITY);
    const diag = facts.find((f) => f.kind === 'diagnostics');
    expect(diag?.data).toHaveProperty('server_message_count');
    expect(diag?.data).toHaveProperty('agent_requests_total');
  } finally {
    await p.close();
  }
}

describe.skipIf(tcpSkip !== null)('pymodbus server over TCP', () => {
  const servers: ChildProcess[] = [];
  const ports: Record<string, number> = {};
  beforeAll(async () => {
    for (const framer of ['socket', 'rtu']) {
      ports[framer] = await freePort();
      servers.push(start(PY, [SCRIPT, '--port', String(ports[framer]), '--framer', framer]));
    }
  });
  afterAll(async () => {
    for (const s of servers) await stop(s);
  });

  it('Modbus TCP with the native client', async () => {
    await checkDevice({ type: 'tcp', host: '127.0.0.1', port: ports.socket });
  });
  it('Modbus TCP with the modbus-serial client', async () => {
    await checkDevice({ type: 'tcp', host: '127.0.0.1', port: ports.socket, client: 'modbus-serial' });
  });
  it('RTU over TCP', async () => {
    await checkDevice({ type: 'rtu_over_tcp', host: '127.0.0.1', port: ports.rtu });
  });
});

describe.skipIf(serialSkip !== null)('pymodbus server over a serial line (pty pair)', () => {
  let socat: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  let dir = '';
  let ours = '';
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-pty-'));
    ours = path.join(dir, 'agent');
    const theirs = path.join(dir, 'plc');
    socat = start('socat', [`pty,raw,echo=0,link=${ours}`, `pty,raw,echo=0,link=${theirs}`]);
    for (let i = 0; i < 50 && !(fs.existsSync(ours) && fs.existsSync(theirs)); i++) await new Promise((r) => setTimeout(r, 100));
    server = start(PY, [SCRIPT, '--serial', theirs]);
  });
  afterAll(async () => {
    await stop(server);
    await stop(socat);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('RTU over a serial port (native link on the serialport package)', async () => {
    // A pty takes no parity setting, hence 8N1.
    await checkDevice({ type: 'rtu', path: ours, baud_rate: 19200, parity: 'none' });
  });
});
