// Runs the real `otsentry verify` command on a capture file, as a security team would.
import { execFile } from 'node:child_process';
import { signingKeyFile } from '../../../agent/signing/keys.js';
import { cliEntry } from './agent.js';

export interface VerifyOutcome {
  /** true: exit 0; false: problems found; undefined: this build has no verify command */
  ok: boolean | undefined;
  code: number | null;
  summary: string;
  report?: unknown;
}

/**
 * The capture holds events only, so the agent's key comes from its data_dir (the verifier takes
 * the public half); every seq from 1 to lastSeq must be accounted for.
 */
export function verifyCapture(file: string, dataDir: string, lastSeq: number): Promise<VerifyOutcome> {
  return new Promise((resolve) => {
    const args = ['verify', file, '--json', '--key', signingKeyFile(dataDir), '--first-seq', '1', '--last-seq', String(lastSeq)];
    execFile(process.execPath, [cliEntry(), ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
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
