// Rules files (a learned, reviewed baseline; any YAML with a `rules:` list): read them and add
// their rules to a config's, checked against its devices with every problem reported as
// `file: rules[3].max: message`.
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, type ConfigProblem } from '../../protocols/problems.js';
import type { DeviceRef } from '../types.js';
import { validateRules } from '../validate.js';

/** The `rules:` list of a rules file. Throws ConfigError (file, problems). */
export function readRulesFile(file: string): unknown[] {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(abs, [{ path: '(file)', message: code === 'ENOENT' ? 'file not found; check the path given to --rules' : `cannot read it (${code})` }]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      abs,
      doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : 'yaml', message: `${e.message.split('\n')[0]} (fix the YAML syntax)` })),
    );
  }
  const raw = doc.toJS() as unknown;
  const list = Array.isArray(raw) ? raw : raw !== null && typeof raw === 'object' ? (raw as { rules?: unknown }).rules : undefined;
  if (!Array.isArray(list)) throw new ConfigError(abs, [{ path: 'rules', message: 'a rules file holds a `rules:` list (as written by otsentry learn)' }]);
  return list;
}

/**
 * The config's rules followed by those of the files, validated together against the devices
 * (so duplicate ids across files are found). Throws ConfigError naming the file of each problem.
 */
export function mergeRuleFiles(base: readonly unknown[], files: readonly string[], devices: readonly DeviceRef[], baseName = 'config'): unknown[] {
  const parts: Array<{ file: string; from: number; to: number }> = [{ file: baseName, from: 0, to: base.length }];
  const all: unknown[] = [...base];
  for (const f of files) {
    const rules = readRulesFile(f);
    parts.push({ file: path.resolve(f), from: all.length, to: all.length + rules.length });
    all.push(...rules);
  }
  const issues = validateRules(all, devices);
  if (issues.length === 0) return all;
  const problems: ConfigProblem[] = issues.map((i) => {
    const m = /^rules\[(\d+)\](.*)$/.exec(i.path);
    if (!m) return { path: i.path, message: i.message };
    const k = Number(m[1]);
    const part = parts.find((p) => k >= p.from && k < p.to)!;
    return { path: `${part.file === baseName ? '' : `${part.file}: `}rules[${k - part.from}]${m[2]}`, message: i.message.replace(/rules\[(\d+)\]/g, (_, n: string) => `rules[${Number(n) - (parts.find((p) => Number(n) >= p.from && Number(n) < p.to)?.from ?? 0)}]`) };
  });
  throw new ConfigError(files.length === 1 ? path.resolve(files[0]) : baseName, problems);
}
