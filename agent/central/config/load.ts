// Reads central.yaml, validates it with the central schema and reports every problem at once as
// `path: message` lines (as the agent's loader does), including secrets and TLS files that cannot
// be read. Relative paths start at the config file's folder.
import fs from 'node:fs';
import path from 'node:path';
import { resolveSecret, SecretError } from '../../config/secrets.js';
import type { SecretRef } from '../../config/schema.js';
import { ConfigError, parseText, zodProblems, type ConfigProblem } from '../../../protocols/problems.js';
import { centralConfigSchema, type CentralConfig } from './schema.js';

export interface LoadedCentralConfig {
  config: CentralConfig;
  file: string;
  baseDir: string;
  /** central.data_dir, absolute */
  dataDir: string;
}

export function parseCentralConfigText(text: string, file = 'central.yaml'): { config?: CentralConfig; problems: ConfigProblem[] } {
  const data = parseText(text);
  if ('problems' in data) return data;
  if (data.raw === null || typeof data.raw !== 'object' || Array.isArray(data.raw)) {
    return { problems: [{ path: '(root)', message: `${file} must be a YAML mapping with a broker section (and optionally central, store, retention, verify)` }] };
  }
  const parsed = centralConfigSchema.safeParse(data.raw);
  if (!parsed.success) return { problems: zodProblems(parsed.error) };
  return { config: parsed.data, problems: [] };
}

export function loadCentralConfig(file: string, opts: { checkSecrets?: boolean } = {}): LoadedCentralConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found; check the path given to --config' : code === 'EISDIR' ? 'this is a folder; give the YAML file' : `cannot read it (${code}); check its permissions`;
    throw new ConfigError(abs, [{ path: '(file)', message: why }]);
  }
  const { config, problems } = parseCentralConfigText(text, abs);
  if (!config) throw new ConfigError(abs, problems);
  const baseDir = path.dirname(abs);
  if (opts.checkSecrets !== false) {
    const found: ConfigProblem[] = [];
    const check = (where: string, ref: SecretRef | undefined) => {
      if (ref === undefined) return;
      try {
        resolveSecret(ref, baseDir, where);
      } catch (e) {
        if (!(e instanceof SecretError)) throw e;
        found.push({ path: where, message: e.message.slice(where.length + 2) });
      }
    };
    check('broker.password', config.broker.password);
    check('broker.tls.key_passphrase', config.broker.tls?.key_passphrase);
    if (config.store.type === 'postgres') check('store.password', config.store.password);
    for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
      const f = config.broker.tls?.[key];
      if (f && !fs.existsSync(path.resolve(baseDir, f))) found.push({ path: `broker.tls.${key}`, message: `file ${path.resolve(baseDir, f)} not found; check the path (relative paths start at the config file's folder)` });
    }
    if (found.length > 0) throw new ConfigError(abs, found);
  }
  return { config, file: abs, baseDir, dataDir: path.resolve(baseDir, config.central.data_dir) };
}
