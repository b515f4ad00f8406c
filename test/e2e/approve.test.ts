// Approvals at the edge, end to end: a real `otsentry run` against the Modbus simulator over TCP
// and a real broker. `otsentry alerts` lists the raised alert, `otsentry approve` widens the rule:
// the alert clears, an info signal says who approved what, the audit file holds the record; a
// short --for expires and the rule reverts (the alert is raised again); a broken rules file on
// reload keeps the old rules and says why in the status; many reloads skip no poll slot.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { askControl } from '../../agent/outbox/control.js';
import { collect, distEntry, startTestBroker, type Collector, type TestBroker } from '../helpers/broker.js';
import { startAgent, startSimulatorProcess, tempDir, uniqueSignals, withOutput, writeAgentConfig, type AgentProcess, type SimulatorProcess } from './harness.js';

let broker: TestBroker;
// The simulator runs in its own process: in the test worker its answers would wait whenever the
// worker is busy (or descheduled on a loaded machine), and the agent would count skipped poll slots
// that are not its own. The test sets the PLC's mode as another master would: a Modbus write.
let sim: SimulatorProcess;
const setMode = (mode: number): Promise<void> => sim.writeRegister('tank-plc-1', 0, mode); // holding register 0: mode
const agents: AgentProcess[] = [];
const subscribers: Collector[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  sim = await startSimulatorProcess(tankSimulatorConfig({ plcs: 1 }));
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.kill('SIGKILL');
  for (const s of subscribers.splice(0)) await s.close();
  await setMode(1);
});
afterAll(async () => {
  await sim?.stop();
  await broker?.stop();
});

function cli(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const RULE = { id: 'mode-whitelist', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0, 1] };

async function setup(prefix: string) {
  const dir = tempDir(prefix);
  const config = writeAgentConfig(dir, { brokerUrl: broker.url, plcs: sim.plcs });
  // The baseline is a rules file of its own, as `otsentry learn` writes it.
  const baseline = path.join(dir, 'baseline.yaml');
  fs.writeFileSync(baseline, `rules:\n  - ${JSON.stringify(RULE)}\n`);
  const events = await collect(broker.url, 'otsentry/lab/gw-e2e/#');
  subscribers.push(events);
  const agent = startAgent(config, ['run', '--config', config, '--rules', baseline]);
  agents.push(agent);
  return { dir, config, baseline, events, agent, audit: path.join(dir, 'baseline.approvals.jsonl') };
}

const signals = (c: Collector) => uniqueSignals(c.messages);

describe('otsentry approve', () => {
  it('lists the alert, approves it (cleared, info signal, audit record), and the approval expires (reverted, raised again)', { timeout: 60_000 }, async () => {
    const { config, baseline, events, agent, audit } = await setup('approve');
    await setMode(2);
    await withOutput(agent, events.waitFor(() => signals(events).some((s) => s.rule === 'mode-whitelist' && s.state === 'raised'), 20_000, 'the raise'));
    const raised = signals(events).find((s) => s.rule === 'mode-whitelist' && s.state === 'raised')!;

    const listed = cli(['alerts', '--config', config]);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(raised.id);
    expect(listed.out).toContain('mode-whitelist');

    const approved = cli(['approve', '--config', config, raised.id, '--for', '6s', '--reason', 'work order 4711', '--by', 'alice']);
    expect(approved.err + approved.out).toContain('the running agent applied it');
    await withOutput(agent, events.waitFor(() => signals(events).some((s) => s.rule === 'mode-whitelist' && s.state === 'cleared'), 10_000, 'the clear'));
    const info = signals(events).find((s) => s.rule === 'otsentry.approval')!;
    expect(info).toMatchObject({ severity: 'info', device: 'tank-plc-1', tag: 'mode' });
    expect(info.evidence).toMatchObject({ approved_rule: 'mode-whitelist', by: 'alice', reason: 'work order 4711' });
    const cleared = signals(events).find((s) => s.rule === 'mode-whitelist' && s.state === 'cleared')!;
    expect(cleared.evidence).toMatchObject({ reason: 'approved', approved_by: 'alice' });
    const records = fs.readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ type: 'approval', rule: 'mode-whitelist', by: 'alice', reason: 'work order 4711', changes: [{ op: 'add', path: ['values'], value: 2 }] });
    // The baseline file itself is never rewritten.
    expect(fs.readFileSync(baseline, 'utf8')).toContain('[0,1]');

    // Expiry: the agent writes the record, says so, and the rule is back: mode 2 raises again.
    await withOutput(agent, events.waitFor(() => signals(events).some((s) => s.rule === 'otsentry.approval_expired'), 20_000, 'the expiry'));
    await withOutput(agent, events.waitFor(() => signals(events).filter((s) => s.rule === 'mode-whitelist' && s.state === 'raised').length === 2, 10_000, 'the raise after the expiry'));
    const after = fs.readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(after.map((r) => r.type)).toEqual(['approval', 'expiry']);
    expect(after[1]).toMatchObject({ approval: records[0].id, rule: 'mode-whitelist' });
  });

  it('keeps its rules when a reloaded file is bad and says why in the status; many reloads skip no poll slot', { timeout: 60_000 }, async () => {
    const { baseline, events, agent } = await setup('reload');
    const statuses = () => events.messages.filter((m) => m.topic.endsWith('/status'));
    const status = () =>
      statuses()
        .map((m) => JSON.parse(m.payload) as { devices?: Record<string, { state: string; skipped_cycles: number }>; rules?: { rules: number; reloads: number; reload_failures: number; last_reload?: { ok: boolean; error?: string } } })
        .at(-1);
    const skipped = () => status()!.devices!['tank-plc-1'].skipped_cycles;
    await withOutput(agent, events.waitFor(() => status()?.rules !== undefined && status()?.devices?.['tank-plc-1']?.state === 'up', 15_000, 'a status with the rules and the device up'));
    // The reloads start one status after the device is up, when its first poll cycle has surely
    // ended: that cycle also connects and reads identity and 8 diagnostics counters, and slots it
    // loses are counted but are not the reloads' doing. (The status sent on the broker connect often
    // comes before that cycle ends: reloads started there ran into it.) From here, none may be lost.
    const up = statuses().length;
    await withOutput(agent, events.waitFor(() => statuses().length > up, 10_000, 'the status after the first poll cycles'));
    const before = skipped();
    // 50 reloads that each swap in a new engine (the baseline alternates between two versions),
    // asked over the control socket as `otsentry approve` does, while the device is polled every 200 ms.
    const dataDir = path.join(path.dirname(baseline), 'data');
    for (let i = 0; i < 50; i++) {
      fs.writeFileSync(baseline, `rules:\n  - ${JSON.stringify({ ...RULE, values: i % 2 === 0 ? [0, 1, 3] : [0, 1] })}\n`);
      const st = await askControl<{ ok: boolean; changed: boolean }>(dataDir, { op: 'reload' });
      expect(st).toMatchObject({ ok: true });
    }
    await withOutput(agent, events.waitFor(() => (status()?.rules?.reloads ?? 0) >= 50, 10_000, '50 reloads in the status'));
    expect(skipped() - before, 'poll slots skipped during the 50 reloads').toBe(0);
    // SIGHUP reloads too (the file watch as well; both are counted).
    const n = status()!.rules!.reloads;
    agent.child.kill('SIGHUP');
    await withOutput(agent, events.waitFor(() => (status()?.rules?.reloads ?? 0) > n, 10_000, 'a reload by SIGHUP'));
    fs.writeFileSync(baseline, 'rules:\n  - { id: broken, type: range, device: tank-plc-1, tag: nope, max: 1 }\n');
    agent.child.kill('SIGHUP');
    await withOutput(agent, events.waitFor(() => status()?.rules?.last_reload?.ok === false, 15_000, `the failed reload in the status (exit ${agent.child.exitCode} ${agent.child.signalCode}; ${JSON.stringify(status())})`));
    expect(status()!.rules!.last_reload!.error).toContain("unknown tag 'nope'");
    expect(agent.output()).toContain('Rules not reloaded; the agent keeps the rules it had.');
    // The old rule still judges: mode 2 is raised.
    await setMode(2);
    await withOutput(agent, events.waitFor(() => signals(events).some((s) => s.rule === 'mode-whitelist' && s.state === 'raised'), 15_000, 'a raise by the kept rule'));
    expect(skipped() - before, 'poll slots skipped during the reloads').toBe(0);

    // A reload that keeps the rule (another rule is added) keeps its raised alert: no second raise.
    fs.writeFileSync(baseline, `rules:\n  - ${JSON.stringify(RULE)}\n  - ${JSON.stringify({ id: 'level-range', type: 'range', device: 'tank-plc-1', tag: 'level', min: -1000, max: 1000 })}\n`);
    // The folder watch may apply the file first (150 ms after the write; on a loaded machine the
    // control request can come later), and the control reload then finds nothing new to apply:
    // either way both rules are in force.
    expect(await askControl(dataDir, { op: 'reload' })).toMatchObject({ ok: true });
    const seen = statuses().length;
    await withOutput(agent, events.waitFor(() => statuses().length >= seen + 2, 10_000, 'two more status messages (several poll cycles)'));
    expect(status()!.rules).toMatchObject({ rules: 2, last_reload: { ok: true } });
    expect(signals(events).filter((s) => s.rule === 'mode-whitelist').map((s) => s.state)).toEqual(['raised']);
    const open = await askControl<Array<{ rule: string; signal?: string }>>(dataDir, { op: 'alerts' });
    expect(open?.filter((a) => a.rule === 'mode-whitelist')).toEqual([expect.objectContaining({ signal: signals(events).find((s) => s.rule === 'mode-whitelist')!.id })]);
  });
});
