// Recording what the agent polls: a JSONL writer (header, then per poll cycle its samples, facts and
// the link fact, one JSON object per line; format in rules/recording/recording.ts) usable as a sink
// of the running agent, and live polling of a config's devices without rules, outbox or broker, for
// `otsentry record` and `learn --duration`. It keeps what the judge uses, so a replay of `run
// --record` judges what run judged: skipped slots and loop restarts too.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../protocols/log.js';
import type { LoadedConfig } from '../config/load.js';
import { createPoller } from '../../protocols/registry.js';
import { DeviceScheduler, slotPhases, type CycleOutput } from '../scheduler.js';
import { packageVersion } from '../../protocols/package.js';
import { RECORDING_FORMAT } from '../../rules/recording/recording.js';
import { OperationalError } from '../../protocols/errors.js';

export interface RecordingStats {
  cycles: number;
  samples: number;
  facts: number;
  bytes: number;
}

/** Appends poll cycles to a JSONL recording (what replay and learn read). */
export class RecordingWriter {
  readonly stats: RecordingStats = { cycles: 0, samples: 0, facts: 0, bytes: 0 };
  private fd: number;

  /** @throws OperationalError record_file when the file cannot be created */
  constructor(
    readonly file: string,
    devices: ReadonlyArray<{ id: string; tags: ReadonlyArray<{ name: string }> }>,
  ) {
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      this.fd = fs.openSync(file, 'w');
    } catch (e) {
      throw new OperationalError('record_file', `cannot create the recording ${path.resolve(file)} (${(e as NodeJS.ErrnoException).code}); give a writable path to --out`, 'record');
    }
    const header = { type: 'header', v: RECORDING_FORMAT, recorder: `otsentry ${packageVersion()}`, started: new Date().toISOString(), devices: devices.map((d) => ({ id: d.id, tags: d.tags.map((t) => t.name) })) };
    this.write(`${JSON.stringify(header)}\n`);
  }

  /**
   * One poll cycle in the judge's order: samples, other facts, the link fact that ends it (with the
   * slots it overran). A cycle without a link fact (a loop restart report) ends with a cycle line.
   */
  writeCycle(out: CycleOutput): void {
    let text = '';
    for (const s of out.samples) {
      const line: Record<string, unknown> = { type: 'sample', device: s.device, tag: s.tag, value: s.value, quality: s.quality, ts: s.ts, rtt_ms: s.rtt_ms };
      if (s.reason !== undefined) line.reason = s.reason;
      text += `${JSON.stringify(line)}\n`;
    }
    const links = out.facts.filter((f) => f.kind === 'link');
    const facts = [...out.facts.filter((f) => f.kind !== 'link'), ...links];
    const skipped = out.skipped_cycles > 0 ? out.skipped_cycles : undefined;
    for (const f of facts) {
      const endsCycle = f === links[links.length - 1];
      text += `${JSON.stringify({ type: 'fact', device: f.device, kind: f.kind, ts: f.ts, data: f.data, skipped_cycles: endsCycle ? skipped : undefined })}\n`;
    }
    if (links.length === 0) {
      const ts = out.loop_restart?.ts ?? Math.max(0, ...out.samples.map((s) => s.ts), ...facts.map((f) => f.ts));
      text += `${JSON.stringify({ type: 'cycle', device: out.device, ts, skipped_cycles: skipped, loop_restart: out.loop_restart })}\n`;
    }
    this.stats.cycles++;
    this.stats.samples += out.samples.length;
    this.stats.facts += facts.length;
    this.write(text);
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  private write(text: string): void {
    if (this.fd < 0) return;
    const buf = Buffer.from(text);
    fs.writeSync(this.fd, buf);
    this.stats.bytes += buf.length;
  }
}

export interface PollOptions {
  logger: Logger;
  /** stop after this long (ms); undefined: only on `stop` */
  durationMs?: number;
  /** resolves when the user asks to stop (SIGINT/SIGTERM) */
  stop?: Promise<unknown>;
}

/**
 * Poll the enabled devices of a config (read-only, with their schedules) and hand every cycle to
 * onCycle until the duration ends or stop resolves. No rules, no outbox, no broker.
 */
export async function pollDevices(loaded: LoadedConfig, onCycle: (out: CycleOutput) => void, o: PollOptions): Promise<void> {
  const devices = loaded.config.devices.filter((d) => d.enabled);
  const schedulers: DeviceScheduler[] = [];
  const phases = slotPhases(devices);
  for (const d of devices) {
    const log = o.logger.child({ device: d.id });
    const ctx = { logger: log, dataDir: loaded.dataDir, baseDir: loaded.baseDir };
    schedulers.push(new DeviceScheduler(createPoller(d, ctx), { ...d, phase_ms: phases.get(d.id) }, onCycle, log));
  }
  for (const s of schedulers) s.start();
  let timer: NodeJS.Timeout | undefined;
  const waits: Promise<unknown>[] = [];
  if (o.durationMs !== undefined) waits.push(new Promise((r) => (timer = setTimeout(r, o.durationMs))));
  if (o.stop) waits.push(o.stop);
  if (waits.length > 0) await Promise.race(waits);
  if (timer) clearTimeout(timer);
  await Promise.all(schedulers.map((s) => s.stop()));
}

/** `otsentry record`: poll the devices and write every cycle to a JSONL file. */
export async function recordDevices(loaded: LoadedConfig, file: string, o: PollOptions): Promise<RecordingStats> {
  const writer = new RecordingWriter(file, loaded.config.devices.filter((d) => d.enabled));
  o.logger.info({ file: path.resolve(file), devices: loaded.config.devices.filter((d) => d.enabled).length, duration_ms: o.durationMs }, 'Recording.');
  try {
    await pollDevices(loaded, (out) => writer.writeCycle(out), o);
  } finally {
    writer.close();
  }
  return writer.stats;
}
