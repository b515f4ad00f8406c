// Reads the YAML config, validates it with zod and the cross-field checks zod cannot express,
// and reports every problem at once as `path: message` lines (Vector's validation style).
import path from 'node:path';
import { configSchema, type AgentConfig } from './schema.js';
import { crossCheck } from './checks.js';
import { loadConfigFile } from './files.js';
import { brokerWarnings, writableFileWarnings } from './warnings.js';
import { parseText, zodProblems, type ConfigProblem } from '../../protocols/problems.js';

export { ConfigError, formatPath, formatProblems, type ConfigProblem } from '../../protocols/problems.js';

export interface LoadedConfig {
  config: AgentConfig;
  file: string;
  /** folder of the config file; relative paths in the config are resolved against it */
  baseDir: string;
  /** absolute data directory */
  dataDir: string;
  /** what the agent starts with but warns about (log and status topic), as `path: message` */
  warnings: ConfigProblem[];
}

/** Parse and validate config text; pure (no file or network I/O besides secrets when asked). */
export function parseConfigText(text: string, file = 'config'): { config?: AgentConfig; problems: ConfigProblem[] } {
  const data = parseText(text);
  if ('problems' in data) return data;
  const raw = data.raw;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { problems: [{ path: '(root)', message: `${file} must be a YAML mapping with agent, broker and devices sections` }] };
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) return { problems: zodProblems(parsed.error) };
  const problems = crossCheck(parsed.data);
  return problems.length > 0 ? { problems } : { config: parsed.data, problems };
}

/**
 * Load and validate; also checks that secrets and TLS files can be read and that no secret file is
 * open to group or others (the forwarder reads them itself when it connects, so they are never
 * kept in memory longer than needed). Throws ConfigError listing every problem.
 */
export function loadConfig(file: string, opts: { checkSecrets?: boolean } = {}): LoadedConfig {
  const { config, abs, baseDir } = loadConfigFile(file, parseConfigText, opts.checkSecrets !== false, (config, checks) => {
    // OPC UA logins read their own secrets (protocols/opcua/user.ts); their file modes are judged here.
    config.devices.forEach((d, i) => {
      if (d.protocol !== 'opcua') return;
      if (d.auth.type === 'username') checks.privateFile(`devices[${i}].auth.password`, d.auth.password.file);
      if (d.auth.type === 'certificate') checks.privateFile(`devices[${i}].auth.key_file`, d.auth.key_file);
    });
  });
  const warnings = [...writableFileWarnings([{ path: '(file)', file: abs, what: 'config file' }]), ...brokerWarnings(config.broker)];
  return { config, file: abs, baseDir, dataDir: path.resolve(baseDir, config.agent.data_dir), warnings };
}
