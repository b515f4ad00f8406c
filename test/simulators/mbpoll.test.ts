// Interoperability: mbpoll (Debian's independent Modbus master) reads the simulator over TCP, so
// the simulator is proven against a client we did not write. Skips, saying why, without mbpoll.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';

const hasMbpoll = spawnSync('mbpoll', ['-V'], { stdio: 'ignore' }).error === undefined;
if (!hasMbpoll) console.info('mbpoll interop test skipped: mbpoll is not installed (apt-get install mbpoll).');

let sim: ModbusSimulator;

// Asynchronous on purpose: the simulator runs in this process and must keep answering.
const run = promisify(execFile);

async function mbpollRaw(port: number, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run('mbpoll', ['-m', 'tcp', '-a', '1', '-0', '-1', '-p', String(port), ...args, '127.0.0.1'], { timeout: 10_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** `[address]: value` lines of one mbpoll poll. */
async function mbpoll(port: number, args: string[]): Promise<Map<number, string>> {
  const r = await mbpollRaw(port, args);
  expect(r.code, r.out).toBe(0);
  return new Map([...r.out.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => [Number(m[1]), m[2]]));
}

describe.skipIf(!hasMbpoll)('mbpoll reads the Modbus simulator', () => {
  beforeAll(async () => {
    sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('holding registers, float32 setpoints, coils and discrete inputs', async () => {
    const { port } = sim.plcs[0];
    const plc = sim.plc(sim.plcs[0].id);
    expect((await mbpoll(port, ['-r', '0', '-c', '2', '-t', '4'])).get(0)).toBe(String(plc.readTag('mode')));
    expect(Number((await mbpoll(port, ['-r', '2', '-c', '2', '-t', '4:float', '-B'])).get(2))).toBeCloseTo(3.5, 5);
    const coils = await mbpoll(port, ['-r', '0', '-c', '2', '-t', '0']);
    expect(coils.get(0)).toBe(String(plc.readTag('pump_cmd')));
    const inputs = await mbpoll(port, ['-r', '0', '-c', '1', '-t', '1']);
    expect(inputs.get(0)).toBe(String(plc.readTag('pump_running')));
  });

  it('answers an illegal address with exception 2, as mbpoll reports it', async () => {
    const r = await mbpollRaw(sim.plcs[0].port, ['-r', '60000', '-c', '1', '-t', '4']);
    expect(r.out).toMatch(/Illegal data address/i);
  });
});
