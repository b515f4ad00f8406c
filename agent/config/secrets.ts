// Secrets (broker password, key passphrases) come from environment variables or files, never
// from the config text itself, and are never logged. A secret file others can read is refused.
import fs from 'node:fs';
import path from 'node:path';
import type { SecretRef } from './schema.js';
import { secretFileProblem } from './permissions.js';
import { OperationalError } from '../../protocols/errors.js';

export class SecretError extends OperationalError {
  declare readonly code: 'secret_unavailable' | 'secret_unsafe';
  constructor(message: string, code: 'secret_unavailable' | 'secret_unsafe' = 'secret_unavailable') {
    super(code, message, 'config');
  }
}

/** Resolve a secret reference; file paths are relative to the config file's folder. */
export function resolveSecret(ref: SecretRef, baseDir: string, where: string): string {
  if (ref.env !== undefined) {
    const v = process.env[ref.env];
    if (v === undefined || v === '') {
      throw new SecretError(`${where}: environment variable ${ref.env} is not set; export it before starting otsentry`);
    }
    return v;
  }
  const file = path.resolve(baseDir, ref.file!);
  const unsafe = secretFileProblem(file);
  if (unsafe !== undefined) throw new SecretError(`${where}: ${unsafe}`, 'secret_unsafe');
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new SecretError(`${where}: cannot read secret file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check the path and its permissions`);
  }
}
