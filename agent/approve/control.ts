// What the running agent answers on its control socket for `otsentry alerts` and `otsentry approve`:
//   {op:'alerts'}          -> open alerts with the ids of their raised signals
//   {op:'rule', id}        -> the rule as enforced, the rule as written, and its audit file
//   {op:'reload'}          -> read the rule files and approvals again now (the reload's status)
import type { AlertManager } from '../../rules/alerts/index.js';
import type { ControlHandlers } from '../outbox/control.js';
import type { LiveRules, ReloadStatus } from './live.js';
import { openAlertView, type OpenAlert } from './open.js';
import type { AlertSignals } from './signals.js';

export interface RuleAnswer {
  rule: Record<string, unknown>;
  written: Record<string, unknown>;
  file: string;
  audit: string;
}

export function approveHandlers(live: LiveRules, alerts: AlertManager, signals: AlertSignals): ControlHandlers {
  return {
    alerts: (): OpenAlert[] => alerts.openList().map((a) => openAlertView(a, signals.idOf(a.first))),
    rule: (req): RuleAnswer | null => {
      const b = live.current();
      const id = String(req.id);
      const src = b.sourceOf.get(id);
      const rule = b.rules.find((r) => (r as { id?: unknown }).id === id) as Record<string, unknown> | undefined;
      if (!src || !rule) return null;
      return { rule, written: b.written.get(id)!, file: src.file, audit: src.audit };
    },
    reload: (): ReloadStatus => live.reload('otsentry approve'),
  };
}
