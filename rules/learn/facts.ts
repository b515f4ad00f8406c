// Learning from facts: the identity a device answered (if it never changed), its round-trip time
// and exception answers from link facts, and how fast its diagnostic counters grow besides the
// agent's own requests (other masters, exceptions, comm errors) from diagnostics facts.
import type { Fact } from '../../protocols/types.js';
import type { LearnOptions } from './options.js';
import { robustCount } from './robust.js';
import { quantile } from './stats.js';

const IDENTITY_FIELDS = ['vendor', 'product_code', 'revision', 'product_name', 'model_name'] as const;
const MOD = 65536;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/** Growth of a 16-bit counter; NaN when it went back (restart, clear). */
function growth(prev: number, cur: number): number {
  if (cur >= prev) return cur - prev;
  const wrapped = cur + MOD - prev;
  return wrapped < MOD / 2 ? wrapped : NaN;
}

export class FactStats {
  identity: Record<string, string> | undefined;
  identityReads = 0;
  identityChanged = false;
  readonly rtt: number[] = [];
  linkFacts = 0;
  unreachable = 0;
  maxExceptions = 0;
  maxBadResponses = 0;
  diagnosticsReads = 0;
  /**
   * per interval: messages beyond the agent's requests, comm errors, exceptions to others; after
   * settle, what all but the rarest intervals stayed within (a scan or flood while learning is not
   * taught as normal), and how many intervals went beyond
   */
  maxForeign = 0;
  maxCommErrors = 0;
  maxForeignExceptions = 0;
  beyond = 0;
  private readonly perInterval = { foreign: [] as number[], comm: [] as number[], exc: [] as number[], ts: [] as number[] };
  intervals = 0;
  private prevDiag: Record<string, number> | undefined;

  add(f: Fact): void {
    if (f.kind === 'identity') this.addIdentity(f.data);
    else if (f.kind === 'link') this.addLink(f.data);
    else if (f.kind === 'diagnostics') this.addDiagnostics(f.data, f.ts);
  }

  private addIdentity(d: Record<string, unknown>): void {
    const id: Record<string, string> = {};
    for (const k of IDENTITY_FIELDS) if (d[k] !== undefined && d[k] !== '') id[k] = String(d[k]);
    if (Object.keys(id).length === 0) return;
    this.identityReads++;
    if (this.identity === undefined) this.identity = id;
    else if (IDENTITY_FIELDS.some((k) => this.identity![k] !== id[k])) this.identityChanged = true;
  }

  private addLink(d: Record<string, unknown>): void {
    if (typeof d.reachable !== 'boolean') return;
    this.linkFacts++;
    if (!d.reachable) {
      this.unreachable++;
      return;
    }
    const rtt = num(d.rtt_ms);
    if (rtt === rtt) this.rtt.push(rtt);
    const exc = Array.isArray(d.exception_codes) ? d.exception_codes.length : 0;
    if (exc > this.maxExceptions) this.maxExceptions = exc;
    const bad = num(d.bad_responses);
    if (bad > this.maxBadResponses) this.maxBadResponses = bad;
  }

  private addDiagnostics(d: Record<string, unknown>, ts: number): void {
    const cur: Record<string, number> = {};
    for (const [k, v] of Object.entries(d)) if (num(v) === num(v)) cur[k] = num(v);
    this.diagnosticsReads++;
    const prev = this.prevDiag;
    this.prevDiag = cur;
    if (prev === undefined) return;
    const agent = cur.agent_requests_total - prev.agent_requests_total;
    if (!(agent >= 0)) return; // the agent restarted: nothing to compare
    this.intervals++;
    // The same counter choice as the diagnostics detector's `auto`; NaN where a counter went back.
    const p = this.perInterval;
    const server = growth(prev.server_message_count, cur.server_message_count);
    const msgs = server > 0 ? server : growth(prev.bus_message_count, cur.bus_message_count);
    p.foreign.push(msgs - agent);
    p.comm.push(growth(prev.bus_comm_error_count, cur.bus_comm_error_count));
    const agentExc = cur.agent_exception_answers_total - prev.agent_exception_answers_total;
    p.exc.push(growth(prev.bus_exception_error_count, cur.bus_exception_error_count) - (agentExc >= 0 ? agentExc : 0));
    p.ts.push(ts);
  }

  /** Fix the per-interval limits (after learning). */
  settle(o: LearnOptions): void {
    const p = this.perInterval;
    const known = (xs: number[]) => xs.filter((x) => x === x);
    this.maxForeign = Math.max(0, robustCount(known(p.foreign), o));
    this.maxCommErrors = Math.max(0, robustCount(known(p.comm), o));
    this.maxForeignExceptions = Math.max(0, robustCount(known(p.exc), o));
    this.beyond = this.eventTimes().length;
  }

  /** Ends of the diagnostics intervals that went beyond the settled limits: events (a scan, a flood, another master's odd requests). */
  eventTimes(): number[] {
    const p = this.perInterval;
    return p.ts.filter((_, i) => p.foreign[i] > this.maxForeign || p.comm[i] > this.maxCommErrors || p.exc[i] > this.maxForeignExceptions);
  }

  rttSummary(): { median: number; p99: number; max: number } | undefined {
    if (this.rtt.length === 0) return undefined;
    const s = Float64Array.from(this.rtt).sort();
    return { median: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] };
  }
}
