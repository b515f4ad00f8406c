// The daemon: builds the data flow of DESIGN.md from a validated config and runs it.
//   schedulers (one per device) → judge (rules + alerts) → outbox → forwarder
import fs from 'node:fs';
import type { LoadedConfig } from './config/load.js';
import type { Logger } from '../protocols/log.js';
import { createPoller } from '../protocols/registry.js';
import { RuleEngine } from '../rules/index.js';
import { AlertManager } from '../rules/alerts/index.js';
import { loadOpenAlerts, OpenAlertsFile } from './alerts/persist.js';
import { openOutbox, type Outbox } from './outbox/index.js';
import { startControlServer, type ControlServer } from './outbox/control.js';
import { Forwarder } from './forward/index.js';
import { DeviceScheduler, slotPhases, type CycleOutput } from './scheduler.js';
import { Judge } from './judge.js';
import { Inventory } from './inventory.js';
import { startMetricsServer, type MetricsServer } from './metrics.js';
import { privateDirProblem } from './config/permissions.js';
import { LiveRules } from './approve/live.js';
import { AlertSignals } from './approve/signals.js';
import { approveHandlers } from './approve/control.js';
import { OperationalError } from '../protocols/errors.js';
import { formatProblems } from '../protocols/problems.js';

export interface RunOptions {
  logger: Logger;
  /** every poll cycle after it was judged (e.g. `run --record`); keep it cheap */
  onCycle?: (out: CycleOutput) => void;
  /** baseline files (`run --rules`), reloaded live with the config's rules and their approvals */
  rulesFiles?: readonly string[];
}

export interface RunningAgent {
  outbox: Outbox;
  forwarder: Forwarder;
  schedulers: ReadonlyMap<string, DeviceScheduler>;
  judge: Judge;
  /** the rules in force and their live reloads (SIGHUP calls reload) */
  rules: LiveRules;
  /** http://host:port/metrics when agent.metrics_listen is set */
  metricsUrl?: string;
  stop(): Promise<void>;
}

/** How often age-based outbox retention runs besides on every append. */
const RETENTION_CHECK_MS = 10 * 60_000;
/** Assets are republished at most this often, however fast risk scores move. */
const ASSETS_MIN_INTERVAL_MS = 1000;

export async function runAgent(loaded: LoadedConfig, opts: RunOptions): Promise<RunningAgent> {
  const { config } = loaded;
  const log = opts.logger;
  const devices = config.devices.filter((d) => d.enabled);
  try {
    // Only the agent's user may enter: the outbox, open alerts and keys live here.
    fs.mkdirSync(loaded.dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new OperationalError('data_dir', `cannot create data_dir ${loaded.dataDir} (${(e as NodeJS.ErrnoException).code}); set agent.data_dir to a writable folder`, 'config');
  }
  const dataDirProblem = privateDirProblem(loaded.dataDir);
  const warnings = [...loaded.warnings, ...(dataDirProblem ? [{ path: 'agent.data_dir', message: dataDirProblem }] : [])];
  for (const w of warnings) log.warn({ path: w.path, error_code: 'unsafe_setting' }, `${formatProblems([w])}.`);
  const outbox = openOutbox(loaded.dataDir, config.agent.id, config.agent.site, config.outbox);
  // Rules are validated against every configured device; a disabled device just never sends samples.
  // The baseline: the config's rules, the --rules files, and the approvals in force over them.
  let baseline;
  try {
    baseline = LiveRules.load(loaded.file, config.rules, opts.rulesFiles ?? [], config.devices);
  } catch (e) {
    outbox.close();
    throw e;
  }
  const engine = new RuleEngine(baseline.rules, config.devices);
  const alerts = new AlertManager(config.alerts, { devices: devices.map((d) => d.id) });
  const restored = loadOpenAlerts(loaded.dataDir, log);
  alerts.restore(restored, Date.now());
  const alertSignals = new AlertSignals();
  alertSignals.restore(restored);
  const openAlerts = new OpenAlertsFile(loaded.dataDir, alerts, log, (a) => alertSignals.idOf(a.first));
  let rules: LiveRules | undefined;
  const inventory = new Inventory(devices);
  const schedulers = new Map<string, DeviceScheduler>();

  const assets = () => {
    const risk = alerts.snapshot();
    for (const [id, r] of Object.entries(risk.devices)) inventory.noteRisk(id, r.score, r.active_alerts);
    return { v: 1, ts: new Date().toISOString(), agent: config.agent.id, site: config.agent.site, signing_key: outbox.signer.info, site_level: risk.site_level, site_score: risk.site_score, devices: inventory.list() };
  };
  const forwarder = new Forwarder({
    broker: config.broker,
    agent: config.agent.id,
    site: config.agent.site,
    outbox,
    baseDir: loaded.baseDir,
    logger: log,
    devices: () => Object.fromEntries([...schedulers].map(([id, s]) => [id, { state: s.health.state, skipped_cycles: s.health.skipped_cycles }])),
    assets,
    // Consumers take the public key that verifies every signal's `sig` from the retained status.
    statusExtra: () => ({ signing_key: outbox.signer.info, warnings: warnings.map((w) => formatProblems([w])), rules: rules?.status() }),
  });
  const judge = new Judge(
    engine,
    alerts,
    outbox,
    (signals) => {
      alertSignals.note(signals);
      openAlerts.save();
      forwarder.notify();
    },
    log.child({ stage: 'judge' }),
  );
  const live = new LiveRules(
    {
      configFile: loaded.file,
      rulesFiles: opts.rulesFiles ?? [],
      devices: config.devices,
      dataDir: loaded.dataDir,
      judge,
      alerts,
      log: log.child({ stage: 'rules' }),
      onChanged: () => {
        openAlerts.save();
        forwarder.publishStatus();
      },
    },
    baseline,
  );
  rules = live;

  let lastAssets = 0;
  const onCycle = (out: CycleOutput) => {
    judge.onCycle(out);
    opts.onCycle?.(out);
    const s = schedulers.get(out.device);
    if (s) inventory.noteHealth(out.device, s.health);
    for (const f of out.facts) if (f.kind !== 'link') inventory.noteFact(f);
    const now = Date.now();
    // Risk scores and inventory changes are looked at once a second, not on every cycle.
    if (now - lastAssets >= ASSETS_MIN_INTERVAL_MS) {
      lastAssets = now;
      const risk = alerts.snapshot();
      for (const [id, r] of Object.entries(risk.devices)) inventory.noteRisk(id, r.score, r.active_alerts);
      if (inventory.takeDirty()) forwarder.publishAssets();
    }
  };

  const phases = slotPhases(devices);
  for (const d of devices) {
    const dlog = log.child({ device: d.id });
    const poller = createPoller(d, { logger: dlog, dataDir: loaded.dataDir, baseDir: loaded.baseDir });
    schedulers.set(d.id, new DeviceScheduler(poller, { ...d, phase_ms: phases.get(d.id) }, onCycle, dlog));
  }
  let metrics: MetricsServer | undefined;
  if (config.agent.metrics_listen) {
    try {
      metrics = await startMetricsServer(config.agent.metrics_listen, { schedulers, judge, outbox, forwarder, alerts }, log);
    } catch (e) {
      outbox.close();
      throw e;
    }
  }
  // `otsentry outbox ...` reaches the locked outbox through this socket while the agent runs.
  const control: ControlServer | undefined = await startControlServer(loaded.dataDir, outbox, (seqs) => forwarder.redeliver(seqs), log, approveHandlers(live, alerts, alertSignals)).catch((e: NodeJS.ErrnoException) => {
    log.warn({ err: e.code ?? e.message }, 'Cannot serve outbox commands on data_dir/control.sock; `otsentry outbox` works only while the agent is stopped.');
    return undefined;
  });
  forwarder.start();
  live.start();
  for (const s of schedulers.values()) s.start();
  // Age-based retention also runs when nothing is appended for a long time.
  const retention = setInterval(() => {
    try {
      if (outbox.enforceRetention()) forwarder.notify();
    } catch (e) {
      log.error({ err: (e as Error).message }, 'Outbox retention failed; will retry.');
    }
  }, RETENTION_CHECK_MS);
  retention.unref();
  log.info({ agent: config.agent.id, site: config.agent.site, devices: devices.length, rules: engine.rules.length, data_dir: loaded.dataDir, outbox_depth: outbox.depth() }, 'Agent started.');

  let stopped = false;
  return {
    outbox,
    forwarder,
    schedulers,
    judge,
    rules: live,
    metricsUrl: metrics?.url,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(retention);
      live.close();
      await Promise.all([...schedulers.values()].map((s) => s.stop()));
      await forwarder.stop();
      await control?.close();
      await metrics?.close();
      outbox.close();
      log.info({ cycles: judge.counters.cycles, signals: judge.counters.signals }, 'Agent stopped.');
    },
  };
}
