// What `otsentry replay` prints: a summary, per rule counts with first and last time, the alert
// stage's signals, and with labels precision, recall, false-positive rate and time to detect per
// attack. Plain text for people, one JSON object with --json for CI.
import type { ReplaySummary } from './run.js';

/** Ends a command with an exit code and nothing more to print (agent/cli.ts returns it). */
export class ExitStatus extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z'));
const f3 = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(3));

export function formatDuration(ms: number): string {
  if (ms === 0) return '0 s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 6000) / 10} min`;
  return `${Math.round(ms / 360_000) / 10} h`;
}

export function replayText(s: ReplaySummary, input: string, labelColumn?: string): string {
  const out: string[] = [];
  out.push(`replay of ${input}: ${s.cycles} cycles, ${s.samples} samples, ${s.facts} facts, ${iso(s.first_ts)} .. ${iso(s.last_ts)}`);
  const fired = s.rules.filter((r) => r.raised > 0).sort((a, b) => b.raised - a.raised || a.rule.localeCompare(b.rule));
  out.push(`rules: ${s.rules.length}, ${fired.length} would fire (${s.raised} condition${s.raised === 1 ? '' : 's'} raised)`);
  if (fired.length > 0) {
    const w = Math.max(4, ...fired.map((r) => r.rule.length));
    out.push(`  ${'rule'.padEnd(w)}  ${'type'.padEnd(14)}  raised  cleared  first                  last`);
    for (const r of fired) out.push(`  ${r.rule.padEnd(w)}  ${r.type.padEnd(14)}  ${String(r.raised).padStart(6)}  ${String(r.cleared).padStart(7)}  ${iso(r.first).padEnd(21)}  ${iso(r.last)}`);
  }
  out.push(`signals the agent would emit: ${s.signals.raised} raised, ${s.signals.cleared} cleared${s.active_at_end ? `; ${s.active_at_end} condition${s.active_at_end === 1 ? '' : 's'} still active at the end` : ''}`);
  const l = s.labels;
  if (l) {
    out.push(`labels${labelColumn ? ` (${labelColumn})` : ''}: ${l.attack_rows} attack cycles in ${l.attacks.length} attack${l.attacks.length === 1 ? '' : 's'}, ${l.normal_rows} normal, ${l.unknown_rows} unlabelled`);
    out.push(`  precision ${f3(l.precision)}  recall ${f3(l.recall)}  false-positive rate ${f3(l.fpr)}  (tp ${l.tp}, fp ${l.fp}, tn ${l.tn}, fn ${l.fn})`);
    if (l.attacks.length > 0) {
      out.push('  attack  start                  end                    cycles  flagged  time to detect');
      for (const a of l.attacks) {
        out.push(`  ${String(a.id).padStart(6)}  ${iso(a.start).padEnd(21)}  ${iso(a.end).padEnd(21)}  ${String(a.rows).padStart(6)}  ${String(a.flagged).padStart(7)}  ${a.ttd_ms === undefined ? 'not detected' : formatDuration(a.ttd_ms)}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

export function replayJson(s: ReplaySummary): string {
  const t = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return `${JSON.stringify({
    cycles: s.cycles,
    samples: s.samples,
    facts: s.facts,
    first: t(s.first_ts),
    last: t(s.last_ts),
    raised: s.raised,
    signals: s.signals,
    active_at_end: s.active_at_end,
    rules: s.rules.filter((r) => r.raised > 0).map((r) => ({ rule: r.rule, type: r.type, device: r.device, raised: r.raised, cleared: r.cleared, first: t(r.first), last: t(r.last) })),
    labels: s.labels ? { ...s.labels, attacks: s.labels.attacks.map((a) => ({ ...a, start: t(a.start), end: t(a.end), detected_at: t(a.detected_at) })) } : undefined,
  })}\n`;
}
