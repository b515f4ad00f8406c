// The judge's own rules, about the agent's view of a device rather than its data: a poll schedule
// that cannot be kept and a poll loop that was restarted. (A rule that throws is the third,
// rules/failures.ts.) Each is raised on the first cycle that shows it and cleared on the first
// that does not, per device.
import type { Finding } from '../types.js';
import type { Cycle } from './cycle.js';

/** Built-in rule: a device whose poll schedule cannot be kept (never stretched silently). */
export const SCHEDULE_RULE = 'otsentry.poll_schedule';
/** Built-in rule: a device's poll loop stopped on an unexpected error and was restarted. */
export const LOOP_RESTART_RULE = 'otsentry.device_loop_restarted';

const SCHEDULE_RESPONSE = 'Check the device round-trip time and request plan; raise interval_ms or lower timeout_ms/retries.';
const RESTART_RESPONSE = 'The device is not polled until its loop runs again; its link state says restarting, not down. Report the error with the agent version and log.';

/** Devices whose schedule is late and whose loop was restarted, and the findings that change them. */
export class BuiltinRules {
  private readonly late = new Set<string>();
  private readonly restarted = new Set<string>();

  /** Raised while a device's cycles overrun their interval; cleared by the first cycle on time. */
  schedule(c: Cycle, ts: number): Finding | undefined {
    const wasLate = this.late.has(c.device);
    const isLate = c.skipped_cycles > 0;
    if (wasLate === isLate) return undefined;
    if (isLate) this.late.add(c.device);
    else this.late.delete(c.device);
    return {
      rule: SCHEDULE_RULE,
      device: c.device,
      category: 'availability',
      severity: 'low',
      active: isLate,
      ts,
      message: isLate ? `poll cycles of ${c.device} overran their interval; ${c.skipped_cycles} cycle(s) skipped` : `poll schedule of ${c.device} is kept again`,
      response: SCHEDULE_RESPONSE,
      observed: { skipped_cycles: c.skipped_cycles },
    };
  }

  /** Raised when a device loop was restarted; cleared by the first cycle the new loop completes. */
  restart(c: Cycle, ts: number): Finding | undefined {
    const r = c.loop_restart;
    if (r === undefined) {
      if (!this.restarted.delete(c.device)) return undefined;
      return { rule: LOOP_RESTART_RULE, device: c.device, category: 'availability', severity: 'medium', active: false, ts, message: `poll loop of ${c.device} runs again`, response: RESTART_RESPONSE };
    }
    this.restarted.add(c.device);
    return {
      rule: LOOP_RESTART_RULE,
      device: c.device,
      category: 'availability',
      severity: 'medium',
      active: true,
      ts,
      message: `poll loop of ${c.device} stopped on an unexpected error and restarts in ${r.restart_in_ms} ms (restart ${r.restarts}): ${r.error}`,
      response: RESTART_RESPONSE,
      observed: r.error,
      evidence: { restarts: r.restarts, restart_in_ms: r.restart_in_ms },
    };
  }
}
