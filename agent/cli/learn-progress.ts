// Progress of `otsentry learn` on stderr while it polls or reads: elapsed, cycles, samples, rules so
// far, tags converged and an ETA. On a terminal one line rewritten in place (every second);
// otherwise a plain line now and then (about a hundred per run, at least 10 s apart), so logs
// and CI output stay readable. Nothing with --json unless asked for.
import { convergedCount, spoken, type TagVerdict } from '../../rules/learn/convergence.js';
import type { Learner } from '../../rules/learn/learner.js';

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** How often to print: the user's --progress, else by where the lines go and how long learning runs. */
export function progressEvery(o: { progressMs?: number; json?: boolean; tty: boolean; boundMs?: number }): number {
  if (o.progressMs !== undefined) return o.progressMs;
  if (o.json) return 0;
  if (o.tty) return 1000;
  return Math.min(300_000, Math.max(10_000, (o.boundMs ?? 0) / 100));
}

/** Prints render() every everyMs until stop(). */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(
    private readonly out: ProgressStream,
    private readonly everyMs: number,
    private readonly render: () => string,
  ) {}

  start(): this {
    if (this.everyMs > 0) {
      this.timer = setInterval(() => this.print(), this.everyMs);
      this.timer.unref();
    }
    return this;
  }

  /** Ends the progress; on a terminal the rewritten line is cleared for what follows. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY && this.shown) this.out.write('\r\x1b[2K');
  }

  private print(): void {
    const line = this.render();
    if (this.out.isTTY) {
      const w = this.out.columns ?? 0;
      this.out.write(`\r\x1b[2K${w > 1 && line.length >= w ? `${line.slice(0, w - 2)}…` : line}`);
    } else this.out.write(`${line}\n`);
    this.shown = true;
  }
}

/** A value costly to compute, recomputed at most so often that it takes ~2% of the time. */
export class Throttled<T> {
  private value: T | undefined;
  private at = -Infinity;
  private cost = 0;

  constructor(private readonly compute: () => T) {}

  get(now = performance.now()): T {
    if (this.value === undefined || now - this.at >= 50 * this.cost) {
      const t0 = performance.now();
      this.value = this.compute();
      this.cost = performance.now() - t0;
      this.at = now;
    }
    return this.value;
  }
}

export interface ProgressContext {
  learner: Learner;
  /** rules so far (throttled: it scans the cycle table) */
  rules: Throttled<number>;
  /** live: wall-clock ms since polling started; undefined when reading a recording */
  elapsedMs?: number;
  /** live --duration: its length; --until-stable: its MAX */
  boundMs?: number;
  untilStable: boolean;
  /** the recording's name (when reading one) */
  recording?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** One progress line. */
export function progressText(c: ProgressContext): string {
  const p = c.learner.progress();
  const verdicts: TagVerdict[] = c.learner.convergence();
  const { judged, converged } = convergedCount(verdicts);
  const cycles = p.devices.reduce((n, d) => n + d.cycles, 0);
  const window = p.first_ts !== undefined && p.last_ts !== undefined ? p.last_ts - p.first_ts : 0;
  const parts: string[] = [];
  if (c.recording !== undefined) parts.push(`read ${spoken(window)} of ${c.recording}${p.last_ts !== undefined ? ` (to ${iso(p.last_ts)})` : ''}`);
  else if (c.untilStable) parts.push(`${spoken(c.elapsedMs ?? 0)} (until stable, at most ${spoken(c.boundMs ?? 0)})`);
  else parts.push(`${spoken(c.elapsedMs ?? 0)} of ${spoken(c.boundMs ?? 0)}`);
  parts.push(`${cycles} cycles`, `${p.samples} samples`, `${c.rules.get()} rules so far`, `${converged}/${judged} tags converged`);
  const eta = etaMs(c, verdicts, window);
  if (eta !== undefined) parts.push(`ETA ${c.untilStable ? '~' : ''}${spoken(eta)}`);
  return `learn: ${parts.join(', ')}`;
}

/**
 * Live learning only: --duration ends at its end; --until-stable when the slowest unconverged tag
 * has been learned as long as its verdict asks (a guess), and at MAX at the latest.
 */
function etaMs(c: ProgressContext, verdicts: readonly TagVerdict[], window: number): number | undefined {
  if (c.elapsedMs === undefined || c.boundMs === undefined) return undefined;
  const left = Math.max(0, c.boundMs - c.elapsedMs);
  if (!c.untilStable) return left;
  const asks = verdicts.filter((v) => !v.converged && v.learn_ms !== undefined).map((v) => v.learn_ms! - window);
  if (asks.length === 0) return undefined;
  return Math.min(left, Math.max(0, ...asks));
}
