// The id of the raised signal of every open alert, so `otsentry alerts` can list it and
// `otsentry approve SIGNAL_ID` can find the alert. Fed by the judge's committed signals.
import { alertKey, type PersistedAlert } from '../../rules/alerts/index.js';
import type { Finding } from '../../rules/types.js';
import type { RiskSignal } from '../../rules/signal.js';

export class AlertSignals {
  private readonly ids = new Map<string, string>();

  /** Signals just committed: a raise names its alert, a clear forgets it. */
  note(signals: readonly RiskSignal[]): void {
    for (const s of signals) {
      const condition = typeof s.evidence?.condition === 'string' ? s.evidence.condition : undefined;
      const key = alertKey({ rule: s.rule, device: s.device, tag: s.tag, condition });
      if (s.state === 'raised') this.ids.set(key, s.id);
      else this.ids.delete(key);
    }
  }

  /** Take back the ids kept in alerts.json after a restart. */
  restore(list: readonly PersistedAlert[]): void {
    for (const a of list) if (typeof a.signal === 'string') this.ids.set(alertKey(a.first), a.signal);
  }

  idOf(first: Pick<Finding, 'rule' | 'device' | 'tag' | 'condition'>): string | undefined {
    return this.ids.get(alertKey(first));
  }
}
