// `simulate modbus` as a function: flags and config files, printed lines, scenario flags, errors
// that name the place and the fix; and the child-process entry point.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../protocols/log.js';
import { simulateModbus } from '../../agent/cli/simulate-modbus.js';
import { runChild } from '../../simulators/modbus/child.js';
import { benchSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { distEntry } from '../helpers/broker.js';
import { freePort } from '../helpers/ports.js';
import { client, closeClient, sleep } from './helpers.js';

let sim: ModbusSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

function tmpFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-simcli-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('simulateModbus', () => {
  it('starts PLCs from flags on consecutive ports and prints one line per PLC', async () => {
    const port = await freePort();
    const lines: string[] = [];
    sim = await simulateModbus({ plcs: 2, port, framing: 'rtu_over_tcp', logger: silentLogger, out: (l) => lines.push(l) });
    expect(lines).toEqual([
      `modbus plc tank-plc-1 listening on 127.0.0.1:${port} (rtu_over_tcp, unit 1, model tank)`,
      `modbus plc tank-plc-2 listening on 127.0.0.1:${port + 1} (rtu_over_tcp, unit 1, model tank)`,
    ]);
    const c = await client(port + 1, 'rtu_over_tcp');
    expect((await c.readHoldingRegisters(0, 1)).data).toEqual([1]);
    await closeClient(c);
  });

  it('bench model with free ports, and a scenario from the flags on the first PLC', async () => {
    const lines: string[] = [];
    sim = await simulateModbus({ plcs: 3, port: 0, model: 'bench', registers: 10, scenario: 'firmware-swap', at: '100ms', duration: '1m', logger: silentLogger, out: (l) => lines.push(l) });
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('scenario firmware-swap on bench-plc-1 at 0.1s for 60s');
    expect(new Set(sim.plcs.map((p) => p.port)).size).toBe(3);
    expect(sim.plc('bench-plc-1').model.tags).toHaveLength(10);
    await sleep(250);
    expect(sim.plc('bench-plc-1').identity.revision).toBe('2.5.0-unsigned');
    expect(sim.plc('bench-plc-2').identity.revision).toBe('1.0.0');
  });

  it('starts from a config file', async () => {
    const file = tmpFile('sim.yaml', 'plcs:\n  - { id: p1, port: 0, model: tank }\n  - { id: p2, port: 0, framing: rtu_over_tcp, unit_id: 3 }\nscenarios:\n  - { name: slow-plc, plc: p2, at: 0 }\n');
    const lines: string[] = [];
    sim = await simulateModbus({ config: file, plcs: 1, port: 5020, logger: silentLogger, out: (l) => lines.push(l) });
    expect(sim.plcs.map((p) => p.id)).toEqual(['p1', 'p2']);
    expect(lines[2]).toBe('scenario slow-plc on p2 at 0s until stopped');
  });

  it('rejects bad flags with the flag and the fix in the message', async () => {
    const bad = (o: Record<string, unknown>) => simulateModbus({ logger: silentLogger, out: () => {}, ...o });
    await expect(bad({ plcs: 0 })).rejects.toThrow('--plcs 0: give a whole number from 1 to 1000');
    await expect(bad({ framing: 'udp' })).rejects.toThrow('--framing udp: use tcp or rtu_over_tcp');
    await expect(bad({ model: 'boiler' })).rejects.toThrow('--model boiler: use tank or bench');
    await expect(bad({ port: 65535, plcs: 2 })).rejects.toThrow(/runs past port 65535/);
    await expect(bad({ scenario: 'meltdown' })).rejects.toThrow(/--scenario meltdown: unknown; use one of setpoint-tamper, /);
    await expect(bad({ scenario: 'pump-toggle', model: 'bench' })).rejects.toThrow('--scenario pump-toggle needs a tank PLC; use --model tank');
    await expect(bad({ scenario: 'slow-plc', at: 'soon' })).rejects.toThrow("--at 'soon' is not a duration; use a number of seconds or e.g. 500ms, 10s, 2m, 1h");
    await expect(bad({ config: '/nonexistent/sim.yaml' })).rejects.toThrow(/cannot read \(ENOENT\)/);
  });

  it('reports a port in use with the PLC and the fix', async () => {
    const port = await freePort();
    sim = await simulateModbus({ port, logger: silentLogger, out: () => {} });
    await expect(simulateModbus({ port, logger: silentLogger, out: () => {} })).rejects.toThrow(`plcs[0] (tank-plc-1): cannot listen on 127.0.0.1:${port} (EADDRINUSE); pick another port, or 0 for a free one`);
  });
});

describe('child entry point', () => {
  it('runChild prints the ready line with every PLC', async () => {
    const file = tmpFile('sim.json', JSON.stringify(benchSimulatorConfig({ plcs: 2, registers: 5 })));
    const out: string[] = [];
    sim = await runChild([file], (l) => out.push(l), silentLogger);
    const msg = JSON.parse(out[0]);
    expect(msg.ready).toBe(true);
    expect(msg.plcs.map((p: { id: string }) => p.id)).toEqual(['bench-plc-1', 'bench-plc-2']);
    expect(msg.plcs[0]).toMatchObject({ host: '127.0.0.1', framing: 'tcp', unit_id: 1, model: 'bench' });
  });

  it('runs as a separate process from dist/ and stops on SIGTERM', async () => {
    const built = distEntry('simulators/modbus/child.js'); // npm test builds dist/ first
    const file = tmpFile('sim.yaml', 'plcs:\n  - { id: c1 }\n');
    const child = spawn(process.execPath, [built, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('\n')) resolve(text.split('\n')[0]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const { plcs } = JSON.parse(line);
    const c = await client(plcs[0].port);
    expect((await c.readHoldingRegisters(0, 1)).data).toEqual([1]);
    await closeClient(c);
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});
