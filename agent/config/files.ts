// Reading a config file and checking what it points at (secrets, TLS files, key file modes), shared
// by the agent's and central's loaders so both report the same problems in the same words, every
// problem at once as `path: message`.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../../protocols/problems.js';
import { secretFileProblem } from './permissions.js';
import type { SecretRef } from './schema.js';
import { resolveSecret, SecretError } from './secrets.js';

/** The config file's text; a file that cannot be read is a ConfigError naming why and the fix. */
export function readConfigFile(abs: string): string {
  try {
    return fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found; check the path given to --config' : code === 'EISDIR' ? 'this is a folder; give the YAML file' : `cannot read it (${code}); check its permissions`;
    throw new ConfigError(abs, [{ path: '(file)', message: why }]);
  }
}

interface TlsFiles {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  key_passphrase?: SecretRef;
}

/** Collects the problems of the files and secrets a config names; relative paths start at baseDir. */
export class ReferenceChecks {
  readonly problems: ConfigProblem[] = [];

  constructor(private readonly baseDir: string) {}

  /** A secret that cannot be read (missing variable, file absent or open to group and others). */
  secret(where: string, ref: SecretRef | undefined): void {
    if (ref === undefined) return;
    try {
      resolveSecret(ref, this.baseDir, where);
    } catch (e) {
      if (!(e instanceof SecretError)) throw e;
      this.problems.push({ path: where, message: e.message.slice(where.length + 2) });
    }
  }

  /** A file that must exist. */
  file(where: string, f: string | undefined): void {
    if (f !== undefined && !fs.existsSync(path.resolve(this.baseDir, f))) {
      this.problems.push({ path: where, message: `file ${path.resolve(this.baseDir, f)} not found; check the path (relative paths start at the config file's folder)` });
    }
  }

  /** A private key (or password file) that group or others could read. */
  privateFile(where: string, f: string | undefined): void {
    const problem = f === undefined ? undefined : secretFileProblem(path.resolve(this.baseDir, f));
    if (problem) this.problems.push({ path: where, message: problem });
  }

  /** A `tls:` block: its files exist, its key is not open to others, its passphrase can be read. */
  tls(where: string, t: TlsFiles | undefined): void {
    if (t === undefined) return;
    this.secret(`${where}.key_passphrase`, t.key_passphrase);
    for (const key of ['ca_file', 'cert_file', 'key_file'] as const) this.file(`${where}.${key}`, t[key]);
    this.privateFile(`${where}.key_file`, t.key_file);
  }

  /** Throws a ConfigError for `file` when any problem was found. */
  throwIfAny(file: string): void {
    if (this.problems.length > 0) throw new ConfigError(file, this.problems);
  }
}

/**
 * Read a config file, parse it, and (unless checkSecrets is false) check the broker's secret and
 * TLS files and whatever else `references` names: every problem at once as a ConfigError.
 */
export function loadConfigFile<C extends { broker: { password?: SecretRef; tls?: TlsFiles } }>(
  file: string,
  parse: (text: string, abs: string) => { config?: C; problems: ConfigProblem[] },
  checkSecrets: boolean,
  references: (config: C, checks: ReferenceChecks) => void,
): { config: C; abs: string; baseDir: string } {
  const abs = path.resolve(file);
  const { config, problems } = parse(readConfigFile(abs), abs);
  if (!config) throw new ConfigError(abs, problems);
  const baseDir = path.dirname(abs);
  if (checkSecrets) {
    const checks = new ReferenceChecks(baseDir);
    checks.secret('broker.password', config.broker.password);
    checks.tls('broker.tls', config.broker.tls);
    references(config, checks);
    checks.throwIfAny(abs);
  }
  return { config, abs, baseDir };
}
