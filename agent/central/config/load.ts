// Reads central.yaml, validates it with the central schema and reports every problem at once as
// `path: message` lines (as the agent's loader does), including secrets and TLS files that cannot
// be read. Relative paths start at the config file's folder.
import path from 'node:path';
import { loadConfigFile } from '../../config/files.js';
import { parseText, zodProblems, type ConfigProblem } from '../../../protocols/problems.js';
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
  const { config, abs, baseDir } = loadConfigFile(file, parseCentralConfigText, opts.checkSecrets !== false, (config, checks) => {
    if (config.store.type === 'postgres') checks.secret('store.password', config.store.password);
    // The parts start after the broker link is up: their files are checked here, before anything connects.
    config.siem.forEach((o, i) => checks.tls(`siem[${i}].tls`, o.tls));
    if (config.console?.enabled) checks.tls('console.tls', config.console.tls);
  });
  return { config, file: abs, baseDir, dataDir: path.resolve(baseDir, config.central.data_dir) };
}
