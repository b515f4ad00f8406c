// End to end: a real mosquitto, `otsentry central` as a real process with a syslog output, a
// SimAgent publishing signed signals (and one edited copy), and a real rsyslog writing what it
// receives to a file: every stored signal and central's `edited` finding arrive as CEF, in order;
// after SIGTERM and a restart of central the output resumes from its cursor without repeats.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rsyslog, RSYSLOGD } from '../../../bench/central/rsyslog.js';
import { SimAgent } from '../../../bench/central/simagent.js';
import { distEntry, mosquittoPath, startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { Publisher, tempDir, until, writeCentralConfig } from '../harness.js';
import { parse5424, parseCef } from './cefparse.js';

let broker: TestBroker;
let rs: Rsyslog;
beforeAll(async () => {
  broker = await startTestBroker();
  rs = await Rsyslog.start();
});
afterAll(async () => {
  await rs?.close();
  await broker?.stop();
});

function startCentral(config: string): { proc: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [distEntry('agent/cli.js'), 'central', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  return { proc, log: () => log, exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}

const events = (lines: string[]) => lines.map((l) => parseCef(parse5424(l).msg));

describe.skipIf(RSYSLOGD === undefined || mosquittoPath() === undefined)('central → SIEM (mosquitto, otsentry central, rsyslog)', () => {
  it('hands every stored signal and its own finding to rsyslog as CEF, and resumes after a restart', { timeout: 90_000 }, async () => {
    const dir = tempDir('siem-e2e');
    const config = writeCentralConfig(dir, broker.url, {
      central: { id: 'central-e2e', data_dir: 'data' },
      siem: [{ name: 'rsyslog', host: '127.0.0.1', port: rs.port, facility: 'local5', confirm_ms: 200 }],
    });
    let central = startCentral(config);
    await until(() => /Started siem/.test(central.log()), 'central to start its SIEM output');
    const pub = await Publisher.connect(broker.url);
    const agent = new SimAgent('plant-e2e', 'gw-1');
    try {
      await pub.status(agent);
      await pub.assets(agent);
      const first = agent.take(10);
      await pub.events(agent, first.map((s) => s.payload));
      const next = agent.next();
      const edited = JSON.stringify({ ...next.signal, message: 'nothing to see here' });
      await pub.events(agent, [edited]);
      const rest = [next, ...agent.take(9)];
      await pub.events(agent, rest.map((s) => s.payload));

      const lines = await rs.waitForLines(21, 30_000);
      const got = events(lines);
      const signals = got.filter((e) => !e.signatureId.startsWith('central.'));
      expect(signals.map((e) => e.ext.externalId)).toEqual([...first, ...rest].map((s) => s.signal.id));
      expect(signals[0]!.ext).toMatchObject({ cs1: 'plant-e2e', cs2: 'gw-1', cs3: 'plc-1', dst: '127.0.0.1', dpt: '5020', flexString1: 'verified' });
      const finding = got.find((e) => e.signatureId === 'central.edited');
      expect(finding?.ext).toMatchObject({ dvchost: 'central-e2e', cat: 'integrity', cs1: 'plant-e2e', cs2: 'gw-1', cn2: String(next.signal.seq) });
      expect(parse5424(lines[0]!).pri).toBe(21 * 8 + 3); // local5, high
      expect(got.length).toBe(21);

      // SIGTERM: the output ends its connection cleanly, so the cursor covers everything sent.
      central.proc.kill('SIGTERM');
      expect(await central.exited).toBe(0);
      const later = agent.take(5);
      central = startCentral(config);
      await until(() => /Started siem/.test(central.log()), 'central to start again');
      await pub.events(agent, later.map((s) => s.payload));
      const all = events(await rs.waitForLines(26, 30_000));
      expect(all.slice(21).map((e) => e.ext.externalId)).toEqual(later.map((s) => s.signal.id));
      expect(new Set(all.map((e) => e.ext.externalId)).size).toBe(26);
    } finally {
      await pub.clear(agent);
      await pub.close();
      central.proc.kill('SIGTERM');
      await central.exited;
    }
  });
});
