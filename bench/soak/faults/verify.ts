// Runs the real `otsentry verify` command on a capture file, as a security team would.
import { execFile } from 'node:child_process';
import { cliEntry } from './agent.js';

export interface VerifyOutcome {
  /** true: exit 0; false: problems found; undefined: this build has no verify command */
  ok: boolean | undefined;
  code: number | null;
  summary: string;
  report?: unknown;
}

export function verifyCapture(file: string): Promise<VerifyOutcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliEntry(), 'verify', file, '--json'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      if (code !== 0 && /unknown command/.test(stderr)) {
        resolve({ ok: undefined, code, summary: 'not in this build (no verify command)' });
        return;
      }
      let report: unknown;
      try {
        report = JSON.parse(stdout);
      } catch {
        report = undefined;
      }
      resolve({ ok: code === 0, code, summary: `exit ${code}${code === 0 ? ' (everything verifies)' : `: ${(stderr || stdout).trim().slice(0, 2000)}`}`, report });
    });
  });
}
