// Open alerts as `otsentry alerts` lists them and `otsentry approve` finds them: from the running
// agent (control socket) or, when it is stopped, from {data_dir}/alerts.json.
import fs from 'node:fs';
import path from 'node:path';
import type { PersistedAlert } from '../../rules/alerts/index.js';
import type { AlertRef } from './changes.js';
import { OperationalError } from '../../protocols/errors.js';

export interface OpenAlert extends AlertRef {
  severity: string;
  message: string;
}

export function openAlertView(p: PersistedAlert, signal: string | undefined): OpenAlert {
  const f = p.first;
  const a: OpenAlert = { rule: f.rule, device: f.device, severity: p.severity, message: p.last.message, since: new Date(p.openedAt).toISOString() };
  if (signal !== undefined) a.signal = signal;
  if (f.tag !== undefined) a.tag = f.tag;
  if (f.condition !== undefined) a.condition = f.condition;
  // The raise carries what was seen; a later finding of the same alert may carry more.
  if (f.observed !== undefined) a.observed = f.observed;
  if (f.expected !== undefined) a.expected = f.expected;
  if (f.evidence !== undefined) a.evidence = f.evidence;
  return a;
}

/** The open alerts the stopped agent left in its data_dir (none when it never raised any). */
export function openAlertsFromFile(dataDir: string): OpenAlert[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, 'alerts.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new OperationalError('alerts_file', `cannot read ${path.join(dataDir, 'alerts.json')} (${(e as NodeJS.ErrnoException).code}); run as the agent's user`, 'approve');
  }
  try {
    const parsed = JSON.parse(text) as { alerts?: PersistedAlert[] };
    return (parsed.alerts ?? []).filter((a) => typeof a?.first?.rule === 'string').map((a) => openAlertView(a, a.signal));
  } catch {
    throw new OperationalError('alerts_file', `${path.join(dataDir, 'alerts.json')} is not readable JSON; start the agent (it moves a broken file aside)`, 'approve');
  }
}
