// `otsentry approve` while the agent is stopped: a rule in review is approved by its rule id from
// the rule files alone (audit record with from_review, the YAML untouched), `validate` counts the
// approval, and requests that cannot be approved are refused with a clear message.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { distEntry } from '../helpers/broker.js';
import { tempDir, writeAgentConfig } from '../e2e/harness.js';
import { loadBaseline } from '../../agent/approve/baseline.js';
import { loadConfig } from '../../agent/config/load.js';

function cli(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [distEntry('agent/cli.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('otsentry approve (agent stopped)', () => {
  it('approves a rule in review by its id, and validate counts the approval', () => {
    const dir = tempDir('approve-offline');
    const config = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1', plcs: [{ id: 'tank-plc-1', host: '127.0.0.1', port: 1 }] });
    const baseline = path.join(dir, 'baseline.yaml');
    const text =
      'rules:\n  - { id: level.range, type: range, device: tank-plc-1, tag: level, min: 0.5, max: 4, review: "level: still widening" }\n' +
      '  - { id: flow.range, type: range, device: tank-plc-1, tag: flow_rate, min: 0, max: 9, review: "flow_rate: still widening" }\n';
    fs.writeFileSync(baseline, text);

    const r = cli(['approve', '--config', config, '--rules', baseline, 'level.range', '--reason', 'reviewed with the plant engineer', '--by', 'bob']);
    expect(r.err).toContain('agent not running');
    expect(r.code).toBe(0);
    expect(r.out).toContain('approved from review: level: still widening');
    const records = fs.readFileSync(path.join(dir, 'baseline.approvals.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toEqual([expect.objectContaining({ type: 'approval', rule: 'level.range', by: 'bob', from_review: 'level: still widening', changes: [{ op: 'unset', path: ['review'] }], expires: null })]);
    expect(fs.readFileSync(baseline, 'utf8')).toBe(text);

    // An approval that ran out while nobody could write its expiry record gets it with the next approval.
    const audit = path.join(dir, 'baseline.approvals.jsonl');
    const old = { ...records[0], id: 'a-old', ts: '2026-01-01T00:00:00.000Z', expires: '2026-01-01T08:00:00.000Z' };
    fs.appendFileSync(audit, `${JSON.stringify(old)}\n`);
    const r2 = cli(['approve', '--config', config, '--rules', baseline, 'flow.range', '--reason', 'second look', '--for', '1h']);
    expect(r2.code).toBe(0);
    const types = fs.readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; approval?: string; rule: string });
    expect(types.map((t) => [t.type, t.approval ?? t.rule])).toEqual([['approval', 'level.range'], ['approval', 'level.range'], ['expiry', 'a-old'], ['approval', 'flow.range']]);

    const v = cli(['validate', '--config', config, '--rules', baseline]);
    expect(v.out).toContain('2 approvals in force');
    const loaded = loadConfig(config, { checkSecrets: false });
    const b = loadBaseline(loaded.file, loaded.config.rules, [baseline], loaded.config.devices, Date.now());
    expect(b.rules[0]).not.toHaveProperty('review');

    // Once out of review and without an open alert, there is nothing left to approve.
    const again = cli(['approve', '--config', config, '--rules', baseline, 'level.range', '--reason', 'again']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('nothing to approve');
    const unknown = cli(['approve', '--config', config, 'no.such.rule', '--reason', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/neither the signal id of an open alert nor a rule id.*give the same --rules here/);
  });

  it('a broken audit file is a config problem naming its line', () => {
    const dir = tempDir('approve-badaudit');
    const config = writeAgentConfig(dir, { brokerUrl: 'mqtt://127.0.0.1:1', plcs: [{ id: 'tank-plc-1', host: '127.0.0.1', port: 1 }], rules: [{ id: 'm', type: 'allowed_values', device: 'tank-plc-1', tag: 'mode', values: [0, 1] }] });
    fs.writeFileSync(path.join(dir, 'agent.approvals.jsonl'), '{"v":1,"type":"approval"}\n');
    const v = cli(['validate', '--config', config]);
    expect(v.code).toBe(1);
    expect(v.err).toContain('agent.approvals.jsonl');
    expect(v.err).toContain('line 1');
  });
});
