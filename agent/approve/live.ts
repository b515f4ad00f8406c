// Live rules of the running agent: reloads the baseline (config rules, --rules files, approvals)
// on SIGHUP, when one of those files changes, and when an approval expires, without stopping a
// poll: the new engine is built beside the old one and swapped in between two cycles, rules that
// did not change keep their detector and its state. A file that does not load keeps the old rules
// and says why (log and status). Every approval and expiry becomes an `info` signal.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, formatProblems, parseConfigText } from '../config/load.js';
import { RuleEngine, RuleConfigError } from '../../rules/index.js';
import type { AlertManager } from '../../rules/alerts/index.js';
import type { Category, SignalDraft } from '../../rules/signal.js';
import type { DeviceRef, Finding } from '../../rules/types.js';
import type { Logger } from '../../protocols/log.js';
import type { Judge } from '../judge.js';
import { appendRecord, type ApprovalRecord } from './audit.js';
import { loadBaseline, type Baseline } from './baseline.js';
import type { AlertRef } from './changes.js';

/** Built-in rule of the info signal sent for every approval the agent takes up. */
export const APPROVAL_RULE = 'otsentry.approval';
/** Built-in rule of the info signal sent when an approval runs out and its rule reverts. */
export const APPROVAL_EXPIRED_RULE = 'otsentry.approval_expired';
/** File changes within this time are one reload (editors write in several steps). */
const DEBOUNCE_MS = 150;
const ANNOUNCED_FILE = 'approvals-announced.json';

export interface ReloadStatus {
  at: string;
  trigger: string;
  ok: boolean;
  /** why the files were not taken (the old rules stay) */
  error?: string;
  /** the rules changed (false: the files said what the agent already enforced) */
  changed: boolean;
}

export interface RulesStatus {
  rules: number;
  approvals: number;
  /** approvals in force that could not be applied, with why */
  approvals_skipped: string[];
  next_expiry?: string;
  reloads: number;
  reload_failures: number;
  last_reload?: ReloadStatus;
}

export interface LiveRulesOptions {
  configFile: string;
  rulesFiles: readonly string[];
  /** every configured device (rules are validated against all of them) */
  devices: readonly DeviceRef[];
  dataDir: string;
  judge: Judge;
  alerts: AlertManager;
  log: Logger;
  /** after signals were emitted or alerts changed (save alerts.json, wake the forwarder, status) */
  onChanged: () => void;
  now?: () => number;
}

const sameAlert = (r: AlertRef, f: Finding) => r.rule === f.rule && r.device === f.device && (r.tag ?? undefined) === (f.tag ?? undefined) && (r.condition ?? undefined) === (f.condition ?? undefined);

export class LiveRules {
  private baseline: Baseline;
  private readonly announced: Set<string>;
  /** expiries announced in this life (when their record cannot be written, not again per reload) */
  private readonly expiredSeen = new Set<string>();
  private readonly now: () => number;
  private readonly watchers: fs.FSWatcher[] = [];
  private debounce?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;
  private closed = false;
  private reloads = 0;
  private failures = 0;
  private last?: ReloadStatus;

  constructor(
    private readonly o: LiveRulesOptions,
    initial: Baseline,
  ) {
    this.baseline = initial;
    this.now = o.now ?? Date.now;
    this.announced = this.readAnnounced();
  }

  /** Load the baseline as `run` starts: throws ConfigError when a file is bad. */
  static load(configFile: string, configRules: readonly unknown[], rulesFiles: readonly string[], devices: readonly DeviceRef[], now = Date.now()): Baseline {
    return loadBaseline(configFile, configRules, rulesFiles, devices, now);
  }

  /** Once the agent runs: announce approvals taken up while it was stopped, watch the files. */
  start(): void {
    this.apply(this.baseline, this.now(), 'start', false);
    this.watch();
  }

  status(): RulesStatus {
    const b = this.baseline;
    return {
      rules: b.rules.length,
      approvals: b.approvals.length,
      approvals_skipped: b.skipped.map((s) => `${s.approval.id} (${s.approval.rule}): ${s.why}`),
      next_expiry: b.nextExpiry === undefined ? undefined : new Date(b.nextExpiry).toISOString(),
      reloads: this.reloads,
      reload_failures: this.failures,
      last_reload: this.last,
    };
  }

  /** The baseline in force (for `otsentry approve` through the control socket). */
  current(): Baseline {
    return this.baseline;
  }

  /** Read the files again and take them if they load; never throws. */
  reload(trigger: string): ReloadStatus {
    const now = this.now();
    const at = new Date(now).toISOString();
    let b: Baseline;
    try {
      b = loadBaseline(this.o.configFile, this.configRules(), this.o.rulesFiles, this.o.devices, now);
    } catch (e) {
      return this.failed(at, trigger, e);
    }
    try {
      const changed = this.apply(b, now, trigger, true);
      this.reloads++;
      this.last = { at, trigger, ok: true, changed };
      if (changed) this.o.log.info({ trigger, rules: b.rules.length, approvals: b.approvals.length }, 'Rules reloaded.');
      return this.last;
    } catch (e) {
      return this.failed(at, trigger, e);
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.splice(0)) w.close();
    clearTimeout(this.debounce);
    clearTimeout(this.expiryTimer);
  }

  private failed(at: string, trigger: string, e: unknown): ReloadStatus {
    this.failures++;
    const error =
      e instanceof ConfigError ? `${e.file}: ${formatProblems(e.problems).split('\n').join('; ')}` : e instanceof RuleConfigError ? formatProblems(e.issues).split('\n').join('; ') : (e as Error).message;
    this.last = { at, trigger, ok: false, error, changed: false };
    this.o.log.error({ trigger, error_code: 'rules_reload', stage: 'reload', err: error }, 'Rules not reloaded; the agent keeps the rules it had.');
    this.o.onChanged();
    return this.last;
  }

  /** The config file's own rules as they are on disk now (its other sections need a restart). */
  private configRules(): unknown[] {
    const file = this.o.configFile;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(file, [{ path: '(file)', message: `cannot read it (${(e as NodeJS.ErrnoException).code})` }]);
    }
    const { config, problems } = parseConfigText(text, file);
    if (!config) throw new ConfigError(file, problems);
    return config.rules;
  }

  /** Swap in a loaded baseline (when it differs), settle alerts, emit the approval signals. */
  private apply(b: Baseline, now: number, trigger: string, swap: boolean): boolean {
    const old = this.o.judge.currentEngine;
    const changed = swap && b.fingerprint !== this.baseline.fingerprint;
    const engine = changed ? new RuleEngine(b.rules, this.o.devices, old) : old;
    const drafts: SignalDraft[] = [];
    const category = (rule: string): Category => engine.rules.find((r) => r.id === rule)?.category ?? old.rules.find((r) => r.id === rule)?.category ?? 'integrity';
    for (const { approval: a, audit } of b.expired) {
      if (this.expiredSeen.has(a.id)) continue;
      this.expiredSeen.add(a.id);
      try {
        appendRecord(audit, { v: 1, type: 'expiry', id: `${a.id}.x`, ts: new Date(now).toISOString(), approval: a.id, rule: a.rule, expired_at: a.expires! });
      } catch (e) {
        this.o.log.warn({ file: audit, err: (e as Error).message, approval: a.id }, 'Cannot write the expiry record; the approval has expired all the same.');
      }
      drafts.push(this.expiredDraft(a, b, now, category(a.rule)));
      this.announced.delete(a.id);
    }
    if (changed) this.o.judge.setEngine(engine);
    for (const a of b.approvals) {
      if (this.announced.has(a.id)) continue;
      this.announced.add(a.id);
      drafts.push(this.approvalDraft(a, b, now, category(a.rule)));
      if (a.alerts.length > 0) drafts.push(...this.o.alerts.clearWhere((f) => a.alerts.some((r) => sameAlert(r, f)), now, { reason: 'approved', approval: a.id, approved_by: a.by, approval_reason: a.reason }));
    }
    if (changed) {
      const before = new Set(old.rules.map((r) => r.id));
      const after = new Set(engine.rules.map((r) => r.id));
      const kept = engine.keptFrom(old);
      const removed = new Set([...before].filter((id) => !after.has(id)));
      const redone = new Set([...after].filter((id) => before.has(id) && !kept.has(id)));
      if (removed.size > 0) drafts.push(...this.o.alerts.clearWhere((f) => removed.has(f.rule), now, { reason: 'rule_removed' }));
      // A changed rule has a new detector: it must see its condition again, else its alert clears.
      this.o.alerts.expectConfirmation((f) => redone.has(f.rule), now);
      this.o.log.debug({ trigger, kept: kept.size, changed: redone.size, removed: removed.size, added: [...after].filter((id) => !before.has(id)).length }, 'New rules in force.');
    }
    this.baseline = b;
    this.saveAnnounced(b);
    this.o.judge.emit(drafts);
    this.scheduleExpiry(b.nextExpiry);
    this.o.onChanged();
    return changed;
  }

  private ruleDevice(a: ApprovalRecord, b: Baseline): string {
    return a.alerts[0]?.device ?? String(b.written.get(a.rule)?.device ?? 'agent');
  }

  private approvalDraft(a: ApprovalRecord, b: Baseline, now: number, category: Category): SignalDraft {
    const until = a.expires === null ? 'until the baseline is learned again' : `until ${a.expires}`;
    const d: SignalDraft = {
      ts: new Date(now).toISOString(),
      device: this.ruleDevice(a, b),
      rule: APPROVAL_RULE,
      category,
      severity: 'info',
      state: 'raised',
      score: 0,
      message: `${a.by} approved ${a.rule} ${until}: ${a.summary.join('; ')} (${a.reason})`,
      evidence: { approval: a.id, approved_rule: a.rule, by: a.by, reason: a.reason, expires: a.expires, changes: a.summary, signals: a.alerts.map((x) => x.signal).filter(Boolean), ...(a.from_review ? { from_review: a.from_review } : {}) },
    };
    if (a.alerts.length === 1 && a.alerts[0].tag !== undefined) d.tag = a.alerts[0].tag;
    d.score = this.o.alerts.score(d.device);
    return d;
  }

  private expiredDraft(a: ApprovalRecord, b: Baseline, now: number, category: Category): SignalDraft {
    const d: SignalDraft = {
      ts: new Date(now).toISOString(),
      device: this.ruleDevice(a, b),
      rule: APPROVAL_EXPIRED_RULE,
      category,
      severity: 'info',
      state: 'raised',
      score: this.o.alerts.score(this.ruleDevice(a, b)),
      message: `approval of ${a.rule} by ${a.by} expired at ${a.expires}; the rule is back to its baseline (${a.reason})`,
      evidence: { approval: a.id, approved_rule: a.rule, by: a.by, reason: a.reason, expired_at: a.expires, reverted: a.summary },
    };
    if (a.alerts.length === 1 && a.alerts[0].tag !== undefined) d.tag = a.alerts[0].tag;
    return d;
  }

  private scheduleExpiry(at: number | undefined): void {
    clearTimeout(this.expiryTimer);
    if (at === undefined || this.closed) return;
    // setTimeout holds at most 2^31-1 ms; a later expiry is rescheduled when this one fires.
    const wait = Math.min(Math.max(0, at - this.now()) + 5, 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => this.reload('expiry'), wait);
    this.expiryTimer.unref();
  }

  /** Watch the folders (editors and `approve` replace or append files; a file watch would go stale). */
  private watch(): void {
    const files = [...this.baseline.sources.flatMap((s) => [s.file, s.audit])].map((f) => path.resolve(f));
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const d = path.dirname(f);
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(path.basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = fs.watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(String(name))) this.soon();
        });
        w.on('error', (e) => this.o.log.warn({ dir, err: e.message }, 'Cannot watch the rules folder any more; reload with SIGHUP.'));
        this.watchers.push(w);
      } catch (e) {
        this.o.log.warn({ dir, err: (e as Error).message }, 'Cannot watch the rules folder; reload with SIGHUP.');
      }
    }
  }

  private soon(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload('file change'), DEBOUNCE_MS);
    this.debounce.unref();
  }

  private readAnnounced(): Set<string> {
    try {
      const parsed = JSON.parse(fs.readFileSync(path.join(this.o.dataDir, ANNOUNCED_FILE), 'utf8')) as { ids?: unknown };
      return new Set(Array.isArray(parsed.ids) ? parsed.ids.filter((x): x is string => typeof x === 'string') : []);
    } catch {
      return new Set();
    }
  }

  /** Which approvals central has been told about (so a restart does not tell it again). */
  private saveAnnounced(b: Baseline): void {
    const inForce = new Set(b.approvals.map((a) => a.id));
    for (const id of [...this.announced]) if (!inForce.has(id)) this.announced.delete(id);
    const file = path.join(this.o.dataDir, ANNOUNCED_FILE);
    const text = JSON.stringify({ v: 1, ids: [...this.announced] });
    try {
      fs.writeFileSync(`${file}.tmp`, text);
      fs.renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.o.log.warn({ file, err: (e as Error).message }, 'Cannot save which approvals were announced; after a restart they are announced again.');
    }
  }
}
