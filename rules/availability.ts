// Detector `availability`: from the scheduler's link facts (one per poll cycle): unreachable for N
// consecutive polls (and back), and round-trip time far above its learned normal (flooding, a
// failing link, an overloaded PLC). Normal RTT: median/MAD of the first polls, then an EWMA.
import { z } from 'zod';
import type { Fact } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import { roundValue } from './template.js';
import type { Detector, FindingSink, ResolvedRule } from './types.js';

const params = {
  down_after_polls: z.number().int().min(0).default(2).describe('Failed polls in a row before the device counts as unreachable (0 = off)'),
  rtt_check: z.boolean().default(true).describe('Judge the round-trip time'),
  rtt_factor: z.number().finite().min(1).default(3).describe('Slow when RTT exceeds normal times this factor ...'),
  rtt_deviations: z.number().finite().min(0).default(6).describe('... and normal plus this many mean absolute deviations ...'),
  rtt_min_margin_ms: z.number().finite().min(0).default(25).describe('... and normal plus this margin'),
  rtt_warmup_polls: z.number().int().min(3).max(1000).default(10).describe('Polls learned before RTT is judged'),
  rtt_alpha: z.number().gt(0).max(1).default(0.1).describe('EWMA weight of a new normal RTT'),
  rtt_raise_polls: z.number().int().min(1).default(2).describe('Slow polls in a row before raising'),
  rtt_clear_polls: z.number().int().min(1).default(2).describe('Normal polls in a row before clearing'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const unreachable = {
  message: '{device} unreachable for {failures} polls ({error})',
  clear_message: '{device} reachable again after {failures} failed polls ({down_s} s)',
  response: 'Check power, cabling and switch port of the device; if it is up, look for a flood or a changed network configuration.',
};
const texts: TypeTexts = {
  '': unreachable,
  unreachable,
  slow_response: {
    message: '{device} answers in {observed} ms, normally {normal_ms} ms (threshold {threshold_ms} ms)',
    clear_message: '{device} answers in {observed} ms again (normal {normal_ms} ms)',
    response: 'Look for unusual traffic toward the device (flooding, scans, another master) and for link errors; check the PLC cycle load.',
  },
};

function median(xs: Float64Array): number {
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

class AvailabilityDetector implements Detector {
  readonly tags = [] as const;
  readonly factKinds = ['link'] as const;
  readonly cycle = false;
  readonly timed = false;
  private failures = 0;
  private firstFailTs = 0;
  private lastError = 'unknown';
  private down = false;
  private n = 0;
  private readonly warm: Float64Array;
  private srtt = 0;
  private rttvar = 0;
  private high = 0;
  private low = 0;
  private slow = false;

  constructor(readonly rule: ResolvedRule<Params>) {
    this.warm = new Float64Array(rule.params.rtt_warmup_polls);
  }

  onFact(f: Fact, out: FindingSink): void {
    const p = this.rule.params;
    const d = f.data;
    if (typeof d.reachable !== 'boolean') return; // not a link fact this detector understands
    if (!d.reachable) {
      if (this.failures === 0) this.firstFailTs = f.ts;
      this.failures++;
      this.lastError = typeof d.error_code === 'string' ? d.error_code : 'unknown';
      if (!this.down && p.down_after_polls > 0 && this.failures >= p.down_after_polls) {
        this.down = true;
        out.push(this.downFinding(true, f.ts));
      }
      return;
    }
    if (this.down) {
      this.down = false;
      out.push(this.downFinding(false, f.ts));
    }
    this.failures = 0;
    const rtt = d.rtt_ms;
    if (p.rtt_check && typeof rtt === 'number' && Number.isFinite(rtt) && rtt >= 0) this.judgeRtt(rtt, f.ts, out);
  }

  /** Slow when above every bound: a factor, a number of deviations and an absolute margin. */
  threshold(): number {
    const p = this.rule.params;
    return Math.max(this.srtt * p.rtt_factor, this.srtt + p.rtt_deviations * this.rttvar, this.srtt + p.rtt_min_margin_ms);
  }

  private judgeRtt(rtt: number, ts: number, out: FindingSink): void {
    const p = this.rule.params;
    if (this.n < this.warm.length) {
      this.warm[this.n++] = rtt;
      if (this.n === this.warm.length) {
        this.srtt = median(this.warm);
        this.rttvar = median(this.warm.map((x) => Math.abs(x - this.srtt)));
      }
      return;
    }
    if (rtt > this.threshold()) {
      this.high++;
      this.low = 0;
      if (!this.slow && this.high >= p.rtt_raise_polls) {
        this.slow = true;
        out.push(this.slowFinding(true, ts, rtt));
      }
      return;
    }
    this.high = 0;
    if (this.slow) {
      if (++this.low >= p.rtt_clear_polls) {
        this.slow = false;
        this.low = 0;
        out.push(this.slowFinding(false, ts, rtt));
      }
      return;
    }
    // Learn only from normal answers, so an attack cannot teach itself as normal.
    this.rttvar += p.rtt_alpha * (Math.abs(rtt - this.srtt) - this.rttvar);
    this.srtt += p.rtt_alpha * (rtt - this.srtt);
  }

  private downFinding(active: boolean, ts: number) {
    const down = ts - this.firstFailTs;
    return makeFinding(this.rule, texts, {
      active,
      ts,
      condition: 'unreachable',
      observed: active ? 'unreachable' : 'reachable',
      expected: 'reachable',
      evidence: { failed_polls: this.failures, error_code: this.lastError, down_since: new Date(this.firstFailTs).toISOString(), ...(active ? {} : { down_ms: down }) },
      vars: { failures: this.failures, error: this.lastError, down_s: Math.round(down / 1000) },
    });
  }

  private slowFinding(active: boolean, ts: number, rtt: number) {
    const normal = roundValue(this.srtt) as number;
    const thr = roundValue(this.threshold()) as number;
    return makeFinding(this.rule, texts, {
      active,
      ts,
      condition: 'slow_response',
      observed: roundValue(rtt),
      expected: { normal_ms: normal, threshold_ms: thr },
      evidence: { rtt_ms: roundValue(rtt), normal_ms: normal, deviation_ms: roundValue(this.rttvar), threshold_ms: thr },
      vars: { normal_ms: normal, threshold_ms: thr },
    });
  }
}

export const availabilityType = defineDetector({
  type: 'availability',
  description: 'Unreachable for N polls, and round-trip time far above its learned normal.',
  params,
  defaults: { category: 'availability', severity: 'high' },
  texts,
  vars: ['failures', 'error', 'down_s', 'normal_ms', 'threshold_ms'],
  tagMode: 'none',
  check: (p) => (p.down_after_polls === 0 && !p.rtt_check ? [{ path: 'down_after_polls', message: 'both checks are off (down_after_polls 0, rtt_check false); disable the rule instead' }] : []),
  create: (rule) => new AvailabilityDetector(rule),
});
