// `otsentry replay`: a rule set (a config's rules and/or rules files) over a recording at full
// speed. Exit codes for CI: 0 nothing would fire (or every quality gate passed), 1 invalid input
// (config, rules, recording: the message names the place), 2 usage, 3 something would fire,
// 4 a quality gate (--min-recall, --max-fpr) failed.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { mergeRuleFiles } from '../../rules/learn/rulesfile.js';
import type { DeviceRef } from '../../rules/types.js';
import type { AlertsConfigInput } from '../../rules/alerts/index.js';
import { openRecording, type CsvOptions, type RecordingSource } from '../../rules/recording/recording.js';
import { ExitStatus, replayJson, replayText } from '../../rules/replay/report.js';
import { Replay, type ReplaySummary } from '../../rules/replay/run.js';
import { OperationalError } from '../../protocols/errors.js';

export interface ReplayCommandOptions extends CsvOptions {
  input: string;
  config?: string;
  rules?: string[];
  /** write every signal draft as a JSON line */
  events?: string;
  json?: boolean;
  min_recall?: number;
  max_fpr?: number;
  print: (text: string) => void;
}

export class ReplayUsageError extends OperationalError {
  constructor(message: string) {
    super('usage', message, 'cli');
  }
}

/** Devices, rules and alert settings of a replay, from --config and/or --rules and the recording. */
export async function replaySetup(o: ReplayCommandOptions): Promise<{ devices: DeviceRef[]; rules: unknown[]; alerts?: AlertsConfigInput; source: RecordingSource }> {
  if (!o.config && !(o.rules?.length)) throw new ReplayUsageError('give the rules to replay: --config FILE (its rules) and/or --rules FILE');
  const loaded = o.config ? loadConfig(o.config, { checkSecrets: false }) : undefined;
  const device = o.device ?? (loaded?.config.devices.length === 1 ? loaded.config.devices[0].id : undefined);
  const source = await openRecording(o.input, { ...o, device });
  const devices: DeviceRef[] = loaded ? loaded.config.devices : source.devices;
  if (loaded) {
    const known = new Map(devices.map((d) => [d.id, new Set(d.tags.map((t) => t.name))]));
    for (const d of source.devices) {
      const tags = known.get(d.id);
      if (!tags) throw new ReplayUsageError(`${o.input} holds device '${d.id}', which ${loaded.file} does not have (devices: ${[...known.keys()].join(', ')}); use --device to name the CSV's device`);
      const missing = d.tags.map((t) => t.name).filter((t) => !tags.has(t));
      if (missing.length) throw new ReplayUsageError(`${o.input}: tags ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''} are not tags of '${d.id}' in ${loaded.file}; drop them with --ignore or add them to the device`);
    }
  }
  const rules = mergeRuleFiles(loaded?.config.rules ?? [], o.rules ?? [], devices, loaded ? loaded.file : 'rules');
  return { devices, rules, alerts: loaded?.config.alerts, source };
}

export async function replayCommand(o: ReplayCommandOptions): Promise<ReplaySummary> {
  if (o.min_recall !== undefined || o.max_fpr !== undefined) {
    if (!o.labels) throw new ReplayUsageError('--min-recall and --max-fpr need --labels COLUMN');
  }
  const { devices, rules, alerts, source } = await replaySetup(o);
  let fd = -1;
  let seq = 0;
  if (o.events) {
    try {
      fd = fs.openSync(o.events, 'w');
    } catch (e) {
      throw new OperationalError('events_file', `cannot create ${path.resolve(o.events)} (${(e as NodeJS.ErrnoException).code}); give a writable path to --events`, 'cli');
    }
  }
  let summary: ReplaySummary;
  try {
    const replay = new Replay({
      rules,
      devices,
      alerts,
      scoreLabels: o.labels !== undefined,
      onSignal: fd < 0 ? undefined : (d) => fs.writeSync(fd, `${JSON.stringify({ seq: ++seq, ...d })}\n`),
    });
    summary = await replay.run(source.events());
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  o.print(o.json ? replayJson(summary) : replayText(summary, o.input, o.labels));
  const gates = o.min_recall !== undefined || o.max_fpr !== undefined;
  if (gates) {
    const l = summary.labels;
    const failed: string[] = [];
    if (o.min_recall !== undefined && !(l && l.recall >= o.min_recall)) failed.push(`recall ${l ? l.recall.toFixed(3) : '-'} is below --min-recall ${o.min_recall}`);
    if (o.max_fpr !== undefined && !(l && l.fpr <= o.max_fpr)) failed.push(`false-positive rate ${l ? l.fpr.toFixed(3) : '-'} is above --max-fpr ${o.max_fpr}`);
    if (failed.length) {
      if (!o.json) o.print(`quality gate failed: ${failed.join('; ')}\n`);
      throw new ExitStatus(4);
    }
    return summary;
  }
  if (summary.raised > 0) throw new ExitStatus(3);
  return summary;
}
