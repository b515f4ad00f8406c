// Keeps the open alerts in {data_dir}/alerts.json across restarts, so a condition that still holds
// after a restart is not raised twice. Written atomically (temp file + rename) only when the set
// of open alerts changed, which happens only when signals are emitted.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../protocols/log.js';
import type { AlertManager, PersistedAlert } from '../../rules/alerts/manager.js';

const FILE = 'alerts.json';

export function loadOpenAlerts(dataDir: string, log: Logger): PersistedAlert[] {
  const file = path.join(dataDir, FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    log.warn({ file, err: (e as Error).message }, 'Cannot read the open alerts; active conditions will be raised again.');
    return [];
  }
  try {
    const parsed = JSON.parse(text) as { v?: number; alerts?: PersistedAlert[] };
    if (parsed.v !== 1 || !Array.isArray(parsed.alerts)) throw new Error('unknown format');
    return parsed.alerts.filter((a) => a && typeof a.first?.rule === 'string' && typeof a.first?.device === 'string');
  } catch (e) {
    const aside = `${file}.corrupt-${Date.now()}`;
    fs.renameSync(file, aside);
    log.warn({ file, moved_to: aside, err: (e as Error).message }, 'Open alerts file is unreadable; moved aside, active conditions will be raised again.');
    return [];
  }
}

export class OpenAlertsFile {
  private last = '';

  constructor(
    private readonly dataDir: string,
    private readonly alerts: AlertManager,
    private readonly log: Logger,
    /** id of the raised signal of an open alert, kept with it for `otsentry alerts` */
    private readonly signalOf?: (a: PersistedAlert) => string | undefined,
  ) {}

  /** Write the open alerts if they changed since the last write. */
  save(): void {
    const open = this.alerts.openAlerts();
    const text = JSON.stringify({ v: 1, alerts: this.signalOf ? open.map((a) => ({ ...a, signal: this.signalOf!(a) })) : open });
    if (text === this.last) return;
    const file = path.join(this.dataDir, FILE);
    const tmp = `${file}.tmp`;
    try {
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, file);
      this.last = text;
    } catch (e) {
      this.log.warn({ file, err: (e as Error).message }, 'Cannot save the open alerts; after a restart they would be raised again.');
    }
  }
}
