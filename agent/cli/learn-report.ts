// What `otsentry learn` prints when it is done: how learning ended (with --until-stable: where
// every tag converged, or that the bound came first), what was learned, and every tag that has
// not converged with why and how long to learn; or all of it as one JSON object with --json.
import { convergedCount, spoken, verdictLine, type TagVerdict } from '../../rules/learn/convergence.js';
import type { LearnOutcome } from './learn.js';

export interface LearnStop {
  /** end: the recording ended; duration: --duration passed; signal: Ctrl-C; stable / max: --until-stable */
  kind: 'end' | 'duration' | 'signal' | 'stable' | 'max';
  /** how long learning observed: wall clock live, the recording's time with --from */
  afterMs: number;
  /** time of the cycle where stable or max was decided */
  at?: number;
  /** recording line where reading stopped */
  line?: number;
  untilStable: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * While learning, every sample counts; the verdicts below judge what the rules were learned from,
 * so a tag unconverged here can read converged there (the values that kept it open were left out).
 */
const EVERY = ' counting every sample';

function ending(s: LearnStop, live: boolean): string | undefined {
  if (!s.untilStable) return undefined;
  const at = s.at !== undefined ? `${iso(s.at)}${s.line ? `, line ${s.line}` : ''}` : '';
  switch (s.kind) {
    case 'stable':
      return live ? `every tag converged after ${spoken(s.afterMs)}: learning stopped` : `every tag converged after ${spoken(s.afterMs)} of the recording (at ${at}); the rest of it was not used`;
    case 'max':
      return live ? `not every tag converged within ${spoken(s.afterMs)}${EVERY} (the --until-stable bound)` : `not every tag converged within the first ${spoken(s.afterMs)} of the recording${EVERY} (the --until-stable bound, reached at ${at}); learned from that part`;
    case 'end':
      return `the recording ended after ${spoken(s.afterMs)}, before every tag converged${EVERY}`;
    case 'signal':
      return `stopped after ${spoken(s.afterMs)}, before every tag converged${EVERY}`;
    default:
      return undefined;
  }
}

/** Console lines at most; the baseline's header has every tag. */
const MAX_LINES = 20;

/** Unconverged tags, one line each, except those seen too little: one line per device. */
function openLines(open: readonly TagVerdict[], minCycles: number): string[] {
  const few = new Map<string, string[]>();
  const out: string[] = [];
  for (const v of open) {
    if (v.verdict === 'too_few') few.set(v.device, [...(few.get(v.device) ?? []), v.tag]);
    else out.push(verdictLine(v));
  }
  for (const [device, tags] of few) out.push(`${device}/${tags.length === 1 ? tags[0] : `{${tags.slice(0, 8).join(', ')}${tags.length > 8 ? `, ... ${tags.length - 8} more` : ''}}`}: fewer than ${minCycles} good samples, no rule yet; learn longer`);
  return out.length > MAX_LINES ? [...out.slice(0, MAX_LINES - 1), `... and ${out.length - MAX_LINES + 1} more (every tag's verdict is in the baseline's header)`] : out;
}

export function learnReport(r: LearnOutcome, o: { out: string; json?: boolean; config?: string; live: boolean }): string {
  const byType: Record<string, number> = {};
  for (const x of r.rules) byType[String(x.rule.type)] = (byType[String(x.rule.type)] ?? 0) + 1;
  if (o.json) {
    const stop = { kind: r.stop.kind, after_ms: Math.round(r.stop.afterMs), ...(r.stop.at !== undefined ? { at: iso(r.stop.at) } : {}), ...(r.stop.line ? { line: r.stop.line } : {}) };
    const tags = r.convergence.map((v) => ({ device: v.device, tag: v.tag, kind: v.kind, verdict: v.verdict, converged: v.converged, window_ms: v.window_ms, periods: v.periods, learn_ms: v.learn_ms, text: v.text }));
    return `${JSON.stringify({ out: o.out, rules: r.rules.length, by_type: byType, review: r.review, samples: r.samples, facts: r.facts, first_ts: r.first_ts, last_ts: r.last_ts, stop, tags })}\n`;
  }
  const lines: string[] = [];
  const end = ending(r.stop, o.live);
  if (end) lines.push(end);
  lines.push(`learned ${r.rules.length} rules (${Object.entries(byType).map(([t, n]) => `${n} ${t}`).join(', ') || 'none'}) from ${r.samples} samples -> ${o.out}`);
  const { judged, converged } = convergedCount(r.convergence);
  const open = r.convergence.filter((v) => !v.converged);
  if (open.length > 0) {
    const approve = `otsentry approve --config ${o.config ?? 'agent.yaml'} RULE_ID`;
    lines.push(`${open.length} of ${judged} tags have not converged${r.review.length > 0 ? `; the ${r.review.length} rule${r.review.length === 1 ? '' : 's'} that read them start in review (signal at info until \`${approve}\`)` : ''}:`);
    lines.push(...openLines(open, r.options.min_cycles).map((l) => `  ${l}`));
  } else if (judged > 0 && r.stop.kind !== 'stable') lines.push(`every tag converged (${converged} of ${judged})`);
  if (r.rules.length === 0) lines.push('nothing was learned: no device of the recording matched, or it is too short');
  return `${lines.join('\n')}\n`;
}
