// validateRules: per-type schema, references, duplicates, expressions and templates, with paths.
import { describe, expect, it } from 'vitest';
import { RuleEngine } from '../../rules/engine.js';
import { RuleConfigError, validateRules } from '../../rules/validate.js';
import { detectorTypeNames } from '../../rules/registry.js';
import { devices } from './helpers.js';

const lines = (rules: unknown[]) => validateRules(rules, devices).map((i) => `${i.path}: ${i.message}`);

describe('validateRules', () => {
  it('accepts a short rule of every type', () => {
    const rules = [
      { id: 'a', type: 'range', device: 'tank1', tag: 'level', max: 5 },
      { id: 'b', type: 'allowed_values', device: 'tank1', tag: 'mode', values: [0, 1] },
      { id: 'c', type: 'rate', device: 'tank1', tag: 'level', max_per_s: 0.1 },
      { id: 'd', type: 'stuck', device: 'tank1', tag: 'temp' },
      { id: 'e', type: 'integrity', device: 'tank1', baseline: { sp_level: 3 } },
      { id: 'f', type: 'identity', device: 'tank1' },
      { id: 'g', type: 'availability', device: 'tank1' },
      { id: 'h', type: 'exceptions', device: 'tank1' },
      { id: 'i', type: 'diagnostics', device: 'tank1' },
      { id: 'j', type: 'expression', device: 'tank1', expr: 'pump == 1 implies flow > 2' },
      { id: 'k', type: 'residual', device: 'tank1', target: 'level', terms: [{ tag: 'flow', coef: 0.1, lag: 1 }], sigma: 0.1, h: 5 },
      { id: 'l', type: 'grid', device: 'tank1', tag: 'pressure', step: 0.01 },
      { id: 'm', type: 'posture', device: 'tank1' },
    ];
    expect(lines(rules)).toEqual([]);
    expect(rules.map((r) => r.type).sort()).toEqual(detectorTypeNames().sort());
    expect(new RuleEngine(rules, devices).rules).toHaveLength(rules.length);
  });

  it.each<[string, unknown, string[]]>([
    ['not a mapping', 'range', ['rules[0]: a rule is a mapping with id, type, device and its own fields']],
    ['unknown type', { id: 'x', type: 'rnage', device: 'tank1' }, [`rules[0].type: unknown detector type 'rnage'; known types: ${detectorTypeNames().join(', ')}`]],
    ['missing type and id', { device: 'tank1' }, ['rules[0].id: required (string)', 'rules[0].type: required (string)']],
    ['unknown device', { id: 'x', type: 'range', device: 'tnk1', tag: 'level', max: 1 }, ["rules[0].device: unknown device 'tnk1'; known devices: tank1, tank2"]],
    ['unknown tag', { id: 'x', type: 'range', device: 'tank1', tag: 'lvl', max: 1 }, [expect.stringMatching(/^rules\[0\]\.tag: unknown tag 'lvl' on device 'tank1'; known tags: level, pump, .*fw_name$/) as unknown as string]],
    ['unknown tag in a list', { id: 'x', type: 'range', device: 'tank1', tags: ['level', 'tmp'], max: 1 }, [expect.stringMatching(/^rules\[0\]\.tags\[1\]: unknown tag 'tmp'/) as unknown as string]],
    ['tag and tags', { id: 'x', type: 'range', device: 'tank1', tag: 'level', tags: ['temp'], max: 1 }, ['rules[0].tags: give tag or tags, not both']],
    ['no tag', { id: 'x', type: 'stuck', device: 'tank1' }, ['rules[0].tag: a stuck rule needs tag (one tag) or tags (a list)']],
    ['tag on a device rule', { id: 'x', type: 'availability', device: 'tank1', tag: 'level' }, ['rules[0].tag: an availability rule watches the whole device and takes no tag; remove tag']],
    ['tag on an integrity rule', { id: 'x', type: 'integrity', device: 'tank1', tag: 'kp', baseline: { kp: 1 } }, ['rules[0].tag: an integrity rule takes its tags from baseline; remove tag']],
    ['typo in a field', { id: 'x', type: 'range', device: 'tank1', tag: 'level', maxx: 1 }, ['rules[0].maxx: unknown field for a range rule; its own fields are min, max, hysteresis (common: id, type, device, tag, tags, severity, category, message, clear_message, response, enabled, review)']],
    ['wrong type of a field', { id: 'x', type: 'range', device: 'tank1', tag: 'level', max: 'high' }, ['rules[0].max: Invalid input: expected number, received string']],
    ['range without bounds', { id: 'x', type: 'range', device: 'tank1', tag: 'level' }, ['rules[0].max: give min, max or both']],
    ['range min above max', { id: 'x', type: 'range', device: 'tank1', tag: 'level', min: 5, max: 1 }, ['rules[0].max: max (1) must not be below min (5)']],
    ['bad severity', { id: 'x', type: 'availability', device: 'tank1', severity: 'urgent' }, [expect.stringMatching(/^rules\[0\]\.severity: Invalid option/) as unknown as string]],
    ['unknown baseline tag', { id: 'x', type: 'integrity', device: 'tank1', baseline: { kp: 1, sp_lvl: 2 } }, [expect.stringMatching(/^rules\[0\]\.baseline\.sp_lvl: unknown tag 'sp_lvl' on device 'tank1'/) as unknown as string]],
    ['empty baseline', { id: 'x', type: 'integrity', device: 'tank1', baseline: {} }, ['rules[0].baseline: list at least one tag with its approved value']],
    ['maintenance without a zone', { id: 'x', type: 'integrity', device: 'tank1', baseline: { kp: 1 }, maintenance: [{ from: '2025-03-01T08:00:00', to: '2025-03-01T09:00:00Z' }] }, [expect.stringMatching(/^rules\[0\]\.maintenance\[0\]\.from: use an ISO 8601 time with seconds and a zone/) as unknown as string]],
    ['maintenance ends before it starts', { id: 'x', type: 'integrity', device: 'tank1', baseline: { kp: 1 }, maintenance: [{ from: '2025-03-01T09:00:00Z', to: '2025-03-01T08:00:00Z' }] }, ['rules[0].maintenance[0].to: to must be after from']],
    ['bad expression', { id: 'x', type: 'expression', device: 'tank1', expr: 'pump == 1 implies (flow > 2' }, ["rules[0].expr: expected ')', found end of expression at column 28"]],
    ['unknown tag in an expression', { id: 'x', type: 'expression', device: 'tank1', expr: 'pump == 1 implies flw > 2' }, [expect.stringMatching(/^rules\[0\]\.expr: unknown tag 'flw' at column 19; tags of tank1: level, pump/) as unknown as string]],
    ['bad when of stuck', { id: 'x', type: 'stuck', device: 'tank1', tag: 'flow', when: 'pump = 1' }, ["rules[0].when: use == to compare, not '=' at column 6"]],
    ['expression nested too deep', { id: 'deep', type: 'expression', device: 'tank1', expr: `${'('.repeat(40)}pump${')'.repeat(40)} == 1` }, ["rules[0].expr: nested deeper than the limit of 32 levels (parentheses, not, unary minus, function arguments, implies) at column 33; simplify the expr of rule 'deep' or split it into several rules"]],
    ['when too long', { id: 'long', type: 'stuck', device: 'tank1', tag: 'flow', when: `pump == 1${' or pump == 1'.repeat(400)}` }, ["rules[0].when: 5209 characters long, over the limit of 4096 at column 4097; simplify the when of rule 'long' or split it into several rules"]],
    ['rate without a limit', { id: 'x', type: 'rate', device: 'tank1', tag: 'level' }, ['rules[0].max_per_s: give max_per_s, max_changes with window_ms, or both']],
    ['max_changes without window', { id: 'x', type: 'rate', device: 'tank1', tag: 'level', max_changes: 3 }, ['rules[0].window_ms: max_changes needs window_ms']],
    ['unknown placeholder', { id: 'x', type: 'range', device: 'tank1', tag: 'level', max: 1, message: '{tag} over {limit}' }, [expect.stringMatching(/^rules\[0\]\.message: unknown placeholder \{limit\}; use \{rule\} \{device\}/) as unknown as string]],
    ['bad allowed values', { id: 'x', type: 'allowed_values', device: 'tank1', tag: 'mode', values: [] }, ['rules[0].values: list at least one allowed value']],
    ['bad identity field', { id: 'x', type: 'identity', device: 'tank1', expected: { vendr: 'A' } }, ['rules[0].expected.vendr: unknown field', 'rules[0].expected: give at least one of vendor, product_code, revision, product_name, model_name']],
  ])('%s', (_name, rule, want) => {
    expect(lines([rule])).toEqual(want);
  });

  it('reports duplicate ids and every problem of every rule at once', () => {
    const out = lines([
      { id: 'a', type: 'range', device: 'tank1', tag: 'level', max: 1 },
      { id: 'b', type: 'range', device: 'tank9', tag: 'level' },
      { id: 'a', type: 'availability', device: 'tank2' },
    ]);
    expect(out).toEqual(["rules[1].device: unknown device 'tank9'; known devices: tank1, tank2", "rules[2].id: duplicate rule id 'a' (first used by rules[0])"]);
  });

  it('the engine refuses invalid rules with the same lines', () => {
    const bad = [{ id: 'x', type: 'range', device: 'tank1', tag: 'nope', max: 1 }];
    expect(() => new RuleEngine(bad, devices)).toThrow(RuleConfigError);
    try {
      new RuleEngine(bad, devices);
    } catch (e) {
      expect((e as RuleConfigError).issues).toEqual(validateRules(bad, devices));
      expect((e as Error).message).toMatch(/^invalid rules:\nrules\[0\]\.tag: unknown tag 'nope'/);
    }
  });

  it('validates disabled rules too', () => {
    expect(lines([{ id: 'x', type: 'range', device: 'tank1', tag: 'nope', max: 1, enabled: false }])).toHaveLength(1);
  });
});
