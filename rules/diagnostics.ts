// Detector `diagnostics`: Modbus FC08 counters between two reads. Message counters growing faster
// than the agent's own requests mean another master talks to the PLC; the comm error counter
// rising means a disturbed link; exception responses the agent did not get itself mean another client
// probes it (scans); counters going back mean a restart or a clear-counters command.
// Counters are 16-bit and wrap at 65536.
import { z } from 'zod';
import type { Fact } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import type { Detector, FindingSink, ResolvedRule } from './types.js';
import { DIAGNOSTIC_COUNTER_NAMES } from '../protocols/modbus/config.js';

// The FC08 counters the Modbus poller reads (protocols/modbus/config.ts).
const COUNTERS = DIAGNOSTIC_COUNTER_NAMES;
type Counter = (typeof COUNTERS)[number];
const MOD = 65536;

const params = {
  counter: z
    .enum(['auto', 'server_message_count', 'bus_message_count'])
    .default('auto')
    .describe('Message counter compared with the agent requests; auto: server_message_count when it counts, else bus_message_count'),
  tolerance: z.number().int().min(0).default(5).describe('Messages per interval beyond the agent requests that are still normal'),
  tolerance_ratio: z.number().min(0).max(1).default(0.05).describe('Plus this share of the agent requests of the interval'),
  check_comm_errors: z.boolean().default(true).describe('Raise when the bus communication error counter rises'),
  max_comm_errors: z.number().int().min(0).default(0).describe('Comm errors per interval that are still normal'),
  max_foreign_exceptions: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Exception responses per interval beyond those the agent got itself (scans by another client); needs agent_exception_answers_total'),
  report_resets: z.boolean().default(true).describe('Raise when counters go back (restart or clear-counters command)'),
  clear_after_facts: z.number().int().min(1).default(2).describe('Normal intervals in a row before clearing'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const foreignTexts = {
  message: '{device} received {foreign} more messages than the agent sent ({counter} +{observed}, agent +{agent}): another master is talking to it',
  clear_message: '{device} message counter matches the agent requests again',
  response: 'Find the other client (switch port mirror, firewall log, PLC connection table); if it is not an approved HMI or engineering station, block it.',
};
const texts: TypeTexts = {
  '': foreignTexts,
  foreign_master: foreignTexts,
  comm_errors: {
    message: '{device} reports {observed} new communication errors',
    clear_message: '{device} reports no new communication errors',
    response: 'Check cabling, termination and noise on the link; malformed frames can also come from an attacker injecting traffic.',
  },
  foreign_exceptions: {
    message: '{device} sent {foreign} exception responses to another client ({counter} +{observed}, agent got {agent}): someone probes it',
    clear_message: '{device} sends no exception responses to other clients any more',
    response: 'Look for a scan (odd addresses or function codes) from a station that is not the approved HMI; block it at the firewall.',
  },
  counter_reset: {
    message: '{device} diagnostic counters went back ({counters}): restart or clear-counters command',
    clear_message: '{device} diagnostic counters count normally again',
    response: 'Ask whether the PLC was restarted on purpose; a clear-counters command from another station hides its traffic.',
  },
};

/** Growth from prev to cur of a 16-bit counter; a drop that no wrap explains is a reset. */
export function counterDelta(prev: number, cur: number, maxPlausible: number): { delta: number; reset: boolean } {
  if (cur >= prev) return { delta: cur - prev, reset: false };
  const wrapped = cur + MOD - prev;
  return wrapped <= maxPlausible ? { delta: wrapped, reset: false } : { delta: cur, reset: true };
}

class Cond {
  active = false;
  clean = 0;
}

class DiagnosticsDetector implements Detector {
  readonly tags = [] as const;
  readonly factKinds = ['diagnostics'] as const;
  readonly cycle = false;
  readonly timed = false;
  private prev: Partial<Record<Counter, number>> | undefined;
  private prevAgent = NaN;
  private prevAgentExc = NaN;
  private prevTs = NaN;
  private readonly foreign = new Cond();
  private readonly comm = new Cond();
  private readonly foreignExc = new Cond();
  private readonly reset = new Cond();

  constructor(readonly rule: ResolvedRule<Params>) {}

  onFact(f: Fact, out: FindingSink): void {
    const p = this.rule.params;
    const cur: Partial<Record<Counter, number>> = {};
    for (const k of COUNTERS) {
      const v = f.data[k];
      if (typeof v === 'number' && Number.isFinite(v)) cur[k] = v;
    }
    const a = f.data.agent_requests_total;
    const agent = typeof a === 'number' && Number.isFinite(a) ? a : NaN;
    const ae = f.data.agent_exception_answers_total;
    const agentExc = typeof ae === 'number' && Number.isFinite(ae) ? ae : NaN;
    const prevAgentExc = this.prevAgentExc;
    this.prevAgentExc = agentExc;
    const prev = this.prev;
    const prevAgent = this.prevAgent;
    const prevTs = this.prevTs;
    this.prev = cur;
    this.prevAgent = agent;
    this.prevTs = f.ts;
    if (prev === undefined) return;

    // Agent requests restart from zero when the poller restarts: nothing to compare this time.
    const agentDelta = agent >= prevAgent ? agent - prevAgent : NaN;
    const plausible = agentDelta === agentDelta ? Math.max(4 * agentDelta + 2 * p.tolerance, 1000) : MOD / 2;
    const deltas: Partial<Record<Counter, number>> = {};
    const resets: Counter[] = [];
    for (const k of COUNTERS) {
      if (cur[k] === undefined || prev[k] === undefined) continue;
      const d = counterDelta(prev[k], cur[k], plausible);
      deltas[k] = d.delta;
      if (d.reset) resets.push(k);
    }
    const evidence = { counter_deltas: deltas, agent_requests: agentDelta === agentDelta ? agentDelta : null, interval_ms: f.ts - prevTs };

    const name: Counter =
      p.counter !== 'auto' ? p.counter : deltas.server_message_count !== undefined && deltas.server_message_count > 0 ? 'server_message_count' : 'bus_message_count';
    const msgs = deltas[name];
    if (msgs !== undefined && agentDelta === agentDelta && !resets.includes(name)) {
      const foreign = msgs - agentDelta;
      const allowed = p.tolerance + p.tolerance_ratio * agentDelta;
      this.step(this.foreign, 'foreign_master', foreign > allowed, p.clear_after_facts, f.ts, out, () => ({
        observed: msgs,
        expected: { max: Math.floor(agentDelta + allowed) },
        evidence: { ...evidence, counter: name, foreign_messages: foreign },
        vars: { foreign, counter: name, agent: agentDelta },
      }));
    }
    const ce = deltas.bus_comm_error_count;
    if (p.check_comm_errors && ce !== undefined && !resets.includes('bus_comm_error_count')) {
      this.step(this.comm, 'comm_errors', ce > p.max_comm_errors, p.clear_after_facts, f.ts, out, () => ({
        observed: ce,
        expected: { max: p.max_comm_errors },
        evidence,
        vars: {},
      }));
    }
    const ex = deltas.bus_exception_error_count;
    const ownExc = agentExc >= prevAgentExc ? agentExc - prevAgentExc : NaN;
    if (ex !== undefined && ownExc === ownExc && !resets.includes('bus_exception_error_count')) {
      const foreign = ex - ownExc;
      this.step(this.foreignExc, 'foreign_exceptions', foreign > p.max_foreign_exceptions, p.clear_after_facts, f.ts, out, () => ({
        observed: ex,
        expected: { max: ownExc + p.max_foreign_exceptions },
        evidence: { ...evidence, foreign_exceptions: foreign, agent_exception_answers: ownExc },
        vars: { foreign, counter: 'bus_exception_error_count', agent: ownExc },
      }));
    }
    if (p.report_resets) {
      this.step(this.reset, 'counter_reset', resets.length > 0, 1, f.ts, out, () => ({
        observed: resets.length ? Object.fromEntries(resets.map((k) => [k, cur[k]])) : undefined,
        expected: resets.length ? Object.fromEntries(resets.map((k) => [k, `>= ${prev[k]}`])) : undefined,
        evidence: { ...evidence, reset_counters: resets },
        vars: { counters: resets.join(', ') },
      }));
    }
  }

  private step(
    c: Cond,
    condition: string,
    bad: boolean,
    clearAfter: number,
    ts: number,
    out: FindingSink,
    detail: () => { observed: unknown; expected: unknown; evidence: Record<string, unknown>; vars: Record<string, unknown> },
  ): void {
    if (bad) {
      c.clean = 0;
      if (c.active) return;
      c.active = true;
    } else {
      if (!c.active || ++c.clean < clearAfter) return;
      c.active = false;
      c.clean = 0;
    }
    const d = detail();
    out.push(makeFinding(this.rule, texts, { active: bad, ts, condition, ...d }));
  }
}

export const diagnosticsType = defineDetector({
  type: 'diagnostics',
  description: 'FC08 counters: messages beyond the agent requests (another master), comm errors, foreign exceptions, counter resets.',
  params,
  defaults: { category: 'anomaly', severity: 'high' },
  texts,
  vars: ['foreign', 'counter', 'agent', 'counters'],
  tagMode: 'none',
  create: (rule) => new DiagnosticsDetector(rule),
});
