// `otsentry outbox refused|export|retry` as a real CLI process, both ways it reaches the outbox:
// through the running agent's control socket (the file is locked by the agent) and, with the
// agent stopped, by opening the file. A mosquitto ACL makes the broker refuse the agent's events.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config/load.js';
import { silentLogger } from '../../protocols/log.js';
import { runAgent, type RunningAgent } from '../../agent/runtime.js';
import { SqliteOutbox, openOutbox, outboxFile } from '../../agent/outbox/index.js';
import { controlSocketPath } from '../../agent/outbox/control.js';
import { startModbusSimulator, tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { collect, distEntry, withoutMosquitto, startTestBroker } from '../helpers/broker.js';
import { tempDir, until, writeAgentConfig } from '../e2e/harness.js';
import { draft } from './drafts.js';
import { freePort } from '../helpers/ports.js';

const run = promisify(execFile);
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [distEntry('agent/cli.js'), 'outbox', ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe.skipIf(withoutMosquitto('otsentry outbox'))('otsentry outbox', () => {
  it('lists, exports and retries refused events through the running agent, then from the file', { timeout: 60_000 }, async () => {
    const dir = tempDir('outbox-cli');
    const acl = path.join(dir, 'acl');
    // Anonymous clients may publish status and assets, not events: every event is refused (0x87).
    fs.writeFileSync(acl, 'topic readwrite otsentry/lab/gw-e2e/status\ntopic write otsentry/lab/gw-e2e/assets\n');
    const strict = await startTestBroker({ kind: 'mosquitto', config: [`acl_file ${acl}`], unlimitedQueue: false });
    let broker = strict;
    cleanup.push(() => broker.stop());
    const sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
    cleanup.push(() => sim.stop());
    const config = writeAgentConfig(dir, { brokerUrl: strict.url, plcs: sim.plcs, rules: [{ id: 'mode', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [7] }] });
    const loaded = loadConfig(config);
    loaded.config.agent.metrics_listen = `127.0.0.1:${await freePort()}`;
    let agent: RunningAgent | undefined = await runAgent(loaded, { logger: silentLogger });
    cleanup.push(() => agent?.stop());
    await until(() => agent!.outbox.stats().refused >= 1 && agent!.outbox.depth() === 0, 20_000, 'a refused event');
    expect((fs.statSync(controlSocketPath(loaded.dataDir)).mode & 0o777).toString(8)).toBe('600');
    const metrics = await (await fetch(agent.metricsUrl!)).text();
    expect(Number(/^otsentry_outbox_refused (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^otsentry_broker_refused_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);

    const listed = await cli('refused', '--config', config, '--json');
    expect(listed.stderr).toContain('asking the running agent');
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; rule: string; reason_code: number });
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.every((r) => r.reason_code === 135)).toBe(true);
    expect(rows.some((r) => r.rule === 'mode')).toBe(true);

    const out = path.join(dir, 'refused.jsonl');
    const exported = await cli('export', '--config', config, '--refused', '--out', out);
    expect(exported.code).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    // Byte for byte what the outbox holds (and would publish).
    const stored = agent.outbox.entries(10_000, 0, true).map((e) => e.payload);
    expect(lines.slice(0, rows.length)).toEqual(stored.slice(0, rows.length));

    // The operator fixes the broker (no ACL) and retries everything through the running agent.
    await strict.stop();
    broker = await startTestBroker({ kind: 'mosquitto', port: strict.port });
    const sub = await collect(broker.url, 'otsentry/lab/gw-e2e/events');
    cleanup.push(() => sub.close());
    await until(() => agent!.forwarder.stats().connects >= 2, 20_000, 'the agent to reconnect');
    const firstSeq = rows[0].seq;
    const retried = await cli('retry', '--config', config, '--all');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/^\d+ events? pending again \(seq \d+.*\); the agent sends them now\n$/);
    await sub.waitFor((m) => m.some((x) => JSON.parse(x.payload).seq === firstSeq), 10_000, `seq ${firstSeq} after retry`);
    expect(sub.messages.find((x) => JSON.parse(x.payload).seq === firstSeq)?.payload).toBe(stored[0]);

    // Agent stopped: the CLI opens the file itself.
    await agent.stop();
    agent = undefined;
    const prep = openOutbox(loaded.dataDir, 'gw-e2e', 'lab', loaded.config.outbox);
    const lastSeq = prep.append([draft()])[0].seq;
    prep.refuse(lastSeq, { reason_code: 153, reason: 'Payload format invalid', at_ms: Date.UTC(2026, 0, 1) });
    prep.close();
    expect(fs.existsSync(controlSocketPath(loaded.dataDir))).toBe(false);
    const offline = await cli('refused', '--config', config);
    expect(offline.stderr).toContain(`agent not running; using ${outboxFile(loaded.dataDir)}`);
    expect(offline.stdout).toContain(`${String(lastSeq).padStart(8)}  2026-01-01T00:00:00.000Z   153  Payload format invalid`);
    // A socket file nobody answers on (agent killed) is not an agent either.
    fs.writeFileSync(controlSocketPath(loaded.dataDir), '');
    const bad = await cli('retry', '--config', config, '--seq', `${lastSeq},999999`);
    expect(bad.stderr).toContain('agent not running');
    expect(bad.stdout).toBe(`1 event pending again (seq ${lastSeq}); the agent sends them when it next runs\n`);
    expect(bad.stderr).toContain('not refused (acked, dropped or never refused): seq 999999');
    expect(bad.code).toBe(1);
    const box = SqliteOutbox.inspect({ file: outboxFile(loaded.dataDir), agent: 'gw-e2e', site: 'lab', limits: loaded.config.outbox });
    cleanup.push(() => box.close());
    expect(box.stats().refused).toBe(0);
    expect(box.pending(1, lastSeq - 1).map((e) => e.seq)).toEqual([lastSeq]);
  });

  it('explains what is wrong with the arguments', async () => {
    const dir = tempDir('outbox-cli');
    const config = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1', plcs: [{ id: 'p', host: '127.0.0.1', port: 1 }] });
    const none = await cli('retry', '--config', config);
    expect(none).toMatchObject({ code: 2, stderr: 'otsentry: outbox retry: give --seq N (repeatable) or --all.\n' });
    const missing = await cli('refused', '--config', config);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`outbox ${path.join(dir, 'data', 'outbox.sqlite')} does not exist; check agent.data_dir`);
  });
});
