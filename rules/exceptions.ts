// Detector `exceptions`: Modbus exception responses and malformed answers seen in a poll cycle
// (from the link facts). After commissioning, a healthy device answers every planned request.
import { z } from 'zod';
import type { Fact } from '../protocols/types.js';
import { EXCEPTION_NAMES } from '../protocols/modbus/errors.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import type { Detector, FindingSink, ResolvedRule } from './types.js';


const params = {
  max_exceptions_per_poll: z.number().int().min(0).default(0).describe('Exception responses tolerated in one poll cycle'),
  codes: z.array(z.number().int().min(1).max(255)).min(1).optional().describe('Count only these exception codes (default: all)'),
  max_bad_responses_per_poll: z.number().int().min(0).default(0).describe('Malformed answers tolerated in one poll cycle'),
  clear_after_polls: z.number().int().min(1).default(3).describe('Clean poll cycles in a row before clearing'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{device} answered {count} requests with Modbus exceptions ({codes})',
    clear_message: '{device} answers without exceptions again',
    response: 'Compare the PLC program and memory map with the approved project (a changed program moves registers); check whether the device is overloaded.',
  },
  exception: {
    message: '{device} answered {count} requests with Modbus exceptions ({codes})',
    clear_message: '{device} answers without exceptions again',
    response: 'Compare the PLC program and memory map with the approved project (a changed program moves registers); check whether the device is overloaded.',
  },
  bad_response: {
    message: '{device} sent {count} malformed answers in one poll',
    clear_message: '{device} answers are well-formed again',
    response: 'Look for a device or man-in-the-middle injecting frames, a gateway fault or wiring noise; capture the traffic if it persists.',
  },
};

/** One condition (exceptions or bad answers) with its own raise/clear counting. */
class Cond {
  active = false;
  clean = 0;
}

class ExceptionsDetector implements Detector {
  readonly tags = [] as const;
  readonly factKinds = ['link'] as const;
  readonly cycle = false;
  readonly timed = false;
  private readonly exc = new Cond();
  private readonly bad = new Cond();
  private readonly codes: ReadonlySet<number> | undefined;

  constructor(readonly rule: ResolvedRule<Params>) {
    this.codes = rule.params.codes ? new Set(rule.params.codes) : undefined;
  }

  onFact(f: Fact, out: FindingSink): void {
    const d = f.data;
    const p = this.rule.params;
    const list = Array.isArray(d.exception_codes) ? (d.exception_codes as unknown[]) : [];
    let count = 0;
    for (const c of list) if (typeof c === 'number' && (this.codes === undefined || this.codes.has(c))) count++;
    if (count === 0 && list.length === 0 && d.error_code === 'modbus_exception' && this.codes === undefined) count = 1;
    let bad = typeof d.bad_responses === 'number' ? d.bad_responses : 0;
    if (bad === 0 && d.error_code === 'bad_response') bad = 1;
    // A cycle that reached nothing proves neither presence nor absence of exceptions.
    const judged = d.reachable === true || count > 0 || bad > 0;
    if (!judged) return;
    this.step(this.exc, 'exception', count, p.max_exceptions_per_poll, f, out, list);
    this.step(this.bad, 'bad_response', bad, p.max_bad_responses_per_poll, f, out, list);
  }

  private step(c: Cond, name: string, count: number, max: number, f: Fact, out: FindingSink, codes: unknown[]): void {
    if (count > max) {
      c.clean = 0;
      if (!c.active) {
        c.active = true;
        out.push(this.finding(true, name, f, count, codes));
      }
    } else if (c.active && ++c.clean >= this.rule.params.clear_after_polls) {
      c.active = false;
      c.clean = 0;
      out.push(this.finding(false, name, f, count, codes));
    }
  }

  private finding(active: boolean, condition: string, f: Fact, count: number, codes: unknown[]) {
    const named = [...new Set(codes)].map((c) => (typeof c === 'number' ? `${c} ${EXCEPTION_NAMES[c] ?? 'unknown'}` : String(c)));
    return makeFinding(this.rule, texts, {
      active,
      ts: f.ts,
      condition,
      observed: count,
      expected: condition === 'exception' ? this.rule.params.max_exceptions_per_poll : this.rule.params.max_bad_responses_per_poll,
      evidence: active ? { count, exception_codes: named, error_code: f.data.error_code } : undefined,
      vars: { count, codes: named.join(', ') || '-' },
    });
  }
}

export const exceptionsType = defineDetector({
  type: 'exceptions',
  description: 'Modbus exception responses and malformed answers per poll cycle.',
  params,
  defaults: { category: 'anomaly', severity: 'medium' },
  texts,
  vars: ['count', 'codes'],
  tagMode: 'none',
  create: (rule) => new ExceptionsDetector(rule),
});
