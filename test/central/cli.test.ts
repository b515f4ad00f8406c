// `otsentry central` as a real process against a real mosquitto, fed by the real agent
// (`otsentry run` polling the Modbus simulator): it pins the agent's key, verifies and stores its
// signals with the chain intact and no finding, serves its metrics, lists the agent under
// `central keys list`, and stops on SIGTERM with exit 0. Every captured signal passes the
// generated signal schema (ajv). Config and usage errors exit 1 and 2 with a clear line.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../agent/central/store/sqlite.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../simulators/modbus/index.js';
import { collect, distEntry, startTestBroker, type TestBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/ports.js';
import { startAgent, tempDir, writeAgentConfig } from '../e2e/harness.js';
import { until, writeCentralConfig } from './harness.js';

const MODE_RULE = { id: 'mode-whitelist', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0, 1] };

let broker: TestBroker;
let sim: ModbusSimulator;
beforeAll(async () => {
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
});
afterAll(async () => {
  await sim?.stop();
  await broker?.stop();
});

function otsentry(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('otsentry central (process)', () => {
  it('verifies and stores what a real agent publishes, serves metrics, lists the agent, stops on SIGTERM', { timeout: 90_000 }, async () => {
    const dir = tempDir('central-cli');
    const metricsPort = await freePort();
    const config = writeCentralConfig(dir, broker.url, { central: { id: 'cli', data_dir: 'data', metrics_listen: `127.0.0.1:${metricsPort}` } });
    const central = spawn(process.execPath, [distEntry('agent/cli.js'), 'central', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    central.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    central.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => central.on('exit', (code) => resolve(code)));
    await until(() => log.includes('receiving'), 'central to subscribe');
    const capture = await collect(broker.url, 'otsentry/+/+/events');

    const agentDir = tempDir('central-cli-agent');
    const agentConfig = writeAgentConfig(agentDir, { brokerUrl: broker.url, plcs: sim.plcs, rules: [MODE_RULE] });
    const agent = startAgent(agentConfig);
    const plc = sim.plc('tank-plc-1');
    const toggler = setInterval(() => plc.writeTag('mode', plc.readTag('mode') === 1 ? 2 : 1), 250);
    const store = new SqliteStore(path.join(dir, 'data', 'central.db'));
    try {
      await until(() => fs.existsSync(path.join(dir, 'data', 'central.db')), 'the store file');
      await store.init();
      await until(async () => (await store.getAgent('lab', 'gw-e2e'))?.chain_seq !== undefined && ((await store.getAgent('lab', 'gw-e2e'))?.chain_seq ?? 0) >= 8, '8 signals in the verified chain', 60_000);
      clearInterval(toggler);
      const rec = (await store.getAgent('lab', 'gw-e2e'))!;
      const key = JSON.parse(otsentry(['key', '--config', agentConfig, '--json']).out) as { key_id: string };
      expect(rec.pinned?.key_id).toBe(key.key_id);
      expect(rec.chain_state).toBe('verified');
      expect(rec.status_state).toBe('online');
      expect(await store.listFindings()).toEqual([]);
      expect(otsentry(['central', 'findings', '--config', config]).out).toBe('no findings\n');
      const stored = await store.signalsBySeq('lab', 'gw-e2e', 1, rec.chain_seq);
      expect(stored.map((s) => s.signal.seq)).toEqual(Array.from({ length: rec.chain_seq }, (_, i) => i + 1));
      expect(stored.every((s) => s.verdict === 'verified')).toBe(true);

      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/^otsentry_central_signals_stored_total \d+/m);
      expect(metrics).toMatch(/otsentry_central_agent_lag_seconds\{site="lab",agent="gw-e2e"\}/);

      // A malformed event next to the agent's: one finding, listed by `central findings`.
      const bad = await collect(broker.url, 'otsentry/none/none/none');
      await bad.client.publishAsync('otsentry/lab/gw-e2e/events', '{not json', { qos: 1 });
      await bad.close();
      await until(async () => (await store.listFindings()).length === 1, 'the malformed finding');
      const findings = otsentry(['central', 'findings', '--config', config, '--agent', 'lab/gw-e2e']);
      expect(findings.code).toBe(0);
      expect(findings.out).toMatch(/MEDIUM\s+malformed\s+lab\/gw-e2e  event on otsentry\/lab\/gw-e2e\/events is not JSON/);
      expect(otsentry(['central', 'findings', '--config', config, '--code', 'nope']).code).toBe(2);

      const list = otsentry(['central', 'keys', 'list', '--config', config]);
      expect(list.code).toBe(0);
      expect(list.out).toContain(`lab/gw-e2e`);
      expect(list.out).toContain(key.key_id);

      // Every signal the agent published passes the JSON Schema `otsentry schema signal` prints.
      const schema = JSON.parse(otsentry(['schema', 'signal']).out) as object;
      const validate = new Ajv2020({ strict: false }).compile(schema);
      await capture.waitFor((m) => m.length >= 8);
      for (const m of capture.messages.filter((x) => x.payload !== '{not json')) expect(validate(JSON.parse(m.payload)), JSON.stringify(validate.errors)).toBe(true);
      expect(validate({ ...JSON.parse(capture.messages[0]!.payload), severity: 'severe' })).toBe(false);
    } finally {
      clearInterval(toggler);
      await agent.kill('SIGTERM');
      await capture.close();
      await store.close();
    }
    central.kill('SIGTERM');
    expect(await exited, log.slice(-3000)).toBe(0);
  });

  it('a config problem exits 1 naming the key; no --config exits 2', () => {
    const dir = tempDir('central-cli-bad');
    const file = path.join(dir, 'central.yaml');
    fs.writeFileSync(file, 'broker:\n  url: http://nope\nverify:\n  gap_grace_secs: -1\n');
    const r = otsentry(['central', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broker\.url: use mqtt:\/\/host:port/);
    expect(r.err).toMatch(/verify\.gap_grace_secs: /);
    const u = otsentry(['central']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/central needs --config FILE/);
  });

  it('a secret that cannot be read exits 1 naming it', () => {
    const dir = tempDir('central-cli-refused');
    const config = writeCentralConfig(dir, `mqtt://127.0.0.1:${broker.port}`, { broker: { username: 'x', password: { env: 'OTSENTRY_TEST_NO_SUCH_SECRET' } } });
    const r = otsentry(['central', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broker\.password: environment variable OTSENTRY_TEST_NO_SUCH_SECRET is not set/);
  });
});
