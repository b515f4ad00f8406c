// One error vocabulary: every operational error of every layer is an OperationalError with a
// stable code and the stage it happened in, and no module builds one ad hoc.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OperationalError } from '../../protocols/errors.js';
import { ConfigError, zodProblems } from '../../protocols/problems.js';
import { ModbusError } from '../../protocols/modbus/errors.js';
import { OpcuaError } from '../../protocols/opcua/errors.js';
import { RuleConfigError } from '../../rules/validate.js';
import { RecordingError } from '../../rules/recording/recording.js';
import { OutboxError } from '../../agent/outbox/types.js';
import { ForwardError } from '../../agent/forward/options.js';
import { SecretError } from '../../agent/config/secrets.js';
import { LinkError } from '../../agent/central/link.js';
import { KeyCommandError } from '../../agent/central/keys.js';
import { SiemError } from '../../agent/central/siem/errors.js';
import { z } from 'zod';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('operational errors', () => {
  it('carry a stable code and a stage, whatever layer throws them', () => {
    const cases: Array<[OperationalError, string, string]> = [
      [new ConfigError('agent.yaml', [{ path: 'devices[0].id', message: 'required (string)' }]), 'config_invalid', 'config'],
      [new ModbusError('timeout', 'no answer within 50 ms'), 'timeout', 'poll'],
      [new OpcuaError('security', 'the server refused the session'), 'security', 'poll'],
      [new RuleConfigError([{ path: 'rules[0].max', message: 'required (number)' }]), 'config_invalid', 'config'],
      [new RecordingError('rec.jsonl', 3, 'not JSON'), 'bad_recording', 'record'],
      [new OutboxError('outbox.db is corrupt', 'outbox_corrupt'), 'outbox_corrupt', 'outbox'],
      [new ForwardError('no broker', 'connection_refused'), 'connection_refused', 'forward'],
      [new SecretError('broker.password: file not found'), 'secret_unavailable', 'config'],
      [new LinkError('broker refused the subscription', 'subscribe_refused'), 'subscribe_refused', 'central'],
      [new KeyCommandError("'x' is not SITE/AGENT"), 'central_keys', 'central'],
      [new SiemError('siem[0]: connection refused', 'connection_refused'), 'connection_refused', 'siem'],
    ];
    for (const [e, code, stage] of cases) {
      expect(e).toBeInstanceOf(OperationalError);
      expect([e.name, e.code, e.stage]).toEqual([e.constructor.name, code, stage]);
    }
    expect(new RuleConfigError([{ path: 'rules[0].max', message: 'required (number)' }]).message).toBe('invalid rules:\nrules[0].max: required (number)');
  });

  it('are never built ad hoc as an Error with a code assigned', () => {
    const r = spawnSync('grep', ['-rn', '--include=*.ts', 'Object.assign(new Error', 'agent', 'protocols', 'rules', 'simulators'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(1); // grep: nothing found
  });

  it('report zod problems as `path: message` with the place of the value', () => {
    const r = z.object({ id: z.string(), n: z.number() }).strict().safeParse({ n: 'x', extra: 1 });
    expect(r.success).toBe(false);
    expect(zodProblems(r.error!, { at: 'rules[2]' })).toEqual([
      { path: 'rules[2].id', message: 'required (string)' },
      { path: 'rules[2].n', message: 'Invalid input: expected number, received string' },
      { path: 'rules[2].extra', message: "unknown key 'extra' (check the spelling; the README lists the allowed keys)" },
    ]);
  });
});
