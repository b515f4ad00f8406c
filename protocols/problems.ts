// Config problems as `path: message` lines: the error type, and zod and YAML problems in that form.
// The one place that formats them: the agent config, rules, recordings and the simulators' configs
// all report through it.
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { OperationalError } from './errors.js';

export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends OperationalError {
  declare readonly code: 'config_invalid';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super('config_invalid', `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` + formatProblems(problems), 'config');
  }
}

export function formatProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('\n');
}

/** `devices[0].tags[2].address` from zod's path array; `at` is where the checked value sits (`rules[3]`). */
export function formatPath(p: ReadonlyArray<PropertyKey>, at = ''): string {
  let out = at;
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out;
}

export interface ZodProblemOptions {
  /** where the checked value sits in its file, e.g. `rules[3]`: every path starts there */
  at?: string;
  /** the message of an unknown key (path: the object holding it); default: check the spelling, the README lists the keys */
  unknownKey?: (key: string, path: ReadonlyArray<PropertyKey>) => string;
}

/** Every issue of a failed zod parse as a problem; a missing value says `required (type)`. */
export function zodProblems(error: { issues: readonly z.core.$ZodIssue[] }, o: ZodProblemOptions = {}): ConfigProblem[] {
  const unknownKey = o.unknownKey ?? ((k: string) => `unknown key '${k}' (check the spelling; the README lists the allowed keys)`);
  return error.issues.flatMap((i): ConfigProblem[] => {
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: formatPath([...i.path, k], o.at), message: unknownKey(k, i.path) }));
    if (i.code === 'invalid_union' && 'discriminator' in i && i.discriminator) {
      return [{ path: formatPath(i.path, o.at), message: `${i.message}; set ${String(i.discriminator)} to a supported value` }];
    }
    if (i.code === 'invalid_type' && /received undefined$/.test(i.message)) return [{ path: formatPath(i.path, o.at), message: `required (${i.expected})` }];
    return [{ path: formatPath(i.path, o.at), message: i.message }];
  });
}

/**
 * YAML (a superset of JSON) to plain data. Generated configs are often plain JSON: those take
 * JSON.parse, which is far cheaper in time and peak memory than a YAML document for thousands of
 * tags; anything else, and JSON with an error, goes through the YAML parser for its messages.
 */
export function parseText(text: string): { raw: unknown } | { problems: ConfigProblem[] } {
  if (/^\s*\{/.test(text)) {
    try {
      return { raw: JSON.parse(text) as unknown };
    } catch {
      // fall through: the YAML parser names the line and column
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : 'yaml',
        message: `${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')} (fix the YAML syntax)`,
      })),
    };
  }
  return { raw: doc.toJS() as unknown };
}
