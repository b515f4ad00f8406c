// The verify command's output: a readable per-agent report, or one JSON document for scripts,
// and the exit code (0 all verified, 3 problems found).
import type { BadLine, CaptureStats } from './capture.js';
import type { AgentReport, VerifyReport } from './verify.js';

export const EXIT_VERIFIED = 0;
export const EXIT_PROBLEMS = 3;

export interface VerifyOutput {
  ok: boolean;
  input: CaptureStats & { bad_lines: BadLine[] };
  agents: AgentReport[];
}

export function verifyOutput(report: VerifyReport, stats: CaptureStats, badLines: readonly BadLine[]): VerifyOutput {
  return { ok: report.ok && badLines.length === 0, input: { ...stats, bad_lines: [...badLines] }, agents: report.agents };
}

export function exitCodeOf(out: VerifyOutput): number {
  return out.ok ? EXIT_VERIFIED : EXIT_PROBLEMS;
}

/** Gap ranges listed in the text report (unreported ones first); --json has them all. */
const MAX_GAPS_SHOWN = 20;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatText(out: VerifyOutput): string {
  const lines: string[] = [];
  const inp = out.input;
  lines.push(`input: ${plural(inp.lines, 'line')}, ${plural(inp.signals, 'signal')}, ${inp.announcements} status/assets, ${inp.other} other${inp.bad_lines.length > 0 ? `, ${inp.bad_lines.length} unreadable` : ''}`);
  for (const b of inp.bad_lines) lines.push(`  ! ${b.message}`);
  for (const a of out.agents) {
    lines.push('');
    lines.push(`${a.site}/${a.agent}: ${a.problems.length === 0 ? 'OK' : `${plural(a.problems.length, 'PROBLEM')}`}`);
    lines.push(`  key         ${a.keys.length === 0 ? 'none known' : a.keys.map((k) => `${k.key_id} (from ${k.source})`).join(', ')}`);
    lines.push(`  signals     ${a.received} received, ${a.unique} distinct seqs ${a.first_seq}-${a.last_seq}, ${plural(a.duplicates, 'duplicate')}${a.out_of_order > 0 ? `, ${a.out_of_order} arrived out of order` : ''}`);
    lines.push(`  hashes ok   ${a.hashes_ok}/${a.unique}`);
    lines.push(`  links ok    ${a.links_ok}`);
    lines.push(`  signatures  ${a.signatures_ok}/${a.unique - a.unsigned} ok${a.unsigned > 0 ? `, ${a.unsigned} unsigned (v1)` : ''}`);
    const covered = a.gaps.filter((g) => g.covered_by !== undefined);
    const open = a.gaps.filter((g) => g.covered_by === undefined);
    const range = (g: { first: number; last: number }) => (g.first === g.last ? `${g.first}` : `${g.first}-${g.last}`);
    const listed = [...open.map((g) => `${range(g)} (NOT reported)`), ...covered.map((g) => `${range(g)} (gap event seq ${g.covered_by})`)];
    const more = listed.length > MAX_GAPS_SHOWN ? `, … ${listed.length - MAX_GAPS_SHOWN} more (--json lists all)` : '';
    lines.push(`  gaps        ${a.gaps.length === 0 ? 'none' : `${plural(a.gaps.length, 'gap')}: ${listed.slice(0, MAX_GAPS_SHOWN).join(', ')}${more}`}`);
    for (const p of a.problems) lines.push(`  ! ${p.message}`);
  }
  if (out.agents.length > 0) {
    lines.push('');
    lines.push(out.ok ? 'verified: no problems.' : 'NOT verified: problems found (see ! lines).');
  }
  return lines.join('\n') + '\n';
}
