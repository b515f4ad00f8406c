// Runs the real `otsentry verify` command on a capture file, as a security team would: every seq
// from 1 to the last committed one must be there, every signal signed by the agent's key.
import { execFile } from 'node:child_process';
import { cliEntry } from './agent.js';

export interface VerifyOutcome {
  /** true: exit 0 (everything verifies); false: anything else */
  ok: boolean;
  code: number | null;
  /** one line for the report: the command's own per-agent counts */
  summary: string;
  report?: unknown;
}

interface AgentCounts {
  site?: string;
  agent?: string;
  received?: number;
  unique?: number;
  first_seq?: number;
  last_seq?: number;
  duplicates?: number;
  out_of_order?: number;
  hashes_ok?: number;
  links_ok?: number;
  signatures_ok?: number;
  unsigned?: number;
  problems?: { message?: string }[];
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliEntry(), ...args], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** The agent's public key PEM, as `otsentry key` prints it (read from its data_dir). */
export async function agentPublicKey(configFile: string): Promise<string> {
  const r = await run(['key', '--config', configFile, '--json']);
  if (r.code !== 0) throw new Error(`otsentry key exited with ${r.code}: ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout) as { public_key: string }).public_key;
}

export async function verifyCapture(file: string, lastSeq: number, keyFile: string): Promise<VerifyOutcome> {
  const r = await run(['verify', file, '--json', '--first-seq', '1', '--last-seq', String(lastSeq), '--require-signed', '--key', keyFile]);
  let report: { agents?: AgentCounts[] } | undefined;
  try {
    report = JSON.parse(r.stdout) as { agents?: AgentCounts[] };
  } catch {
    report = undefined;
  }
  const agents = (report?.agents ?? []).map(
    (a) =>
      `${a.site}/${a.agent}: ${a.received} received, ${a.unique} distinct seqs ${a.first_seq}-${a.last_seq}, ${a.duplicates} duplicates, ${a.out_of_order ?? 0} out of order, ` +
      `hashes ${a.hashes_ok}/${a.unique}, links ${a.links_ok}, signatures ${a.signatures_ok}/${a.unique}, ${a.problems?.length ?? 0} problems${a.problems?.length ? ` (first: ${a.problems[0].message})` : ''}`,
  );
  const summary = `exit ${r.code}${r.code === 0 ? ' (verified)' : ''}; ${agents.length > 0 ? agents.join('; ') : (r.stderr || r.stdout).trim().slice(0, 2000)}`;
  return { ok: r.code === 0, code: r.code, summary, report };
}
