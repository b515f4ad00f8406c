// `otsentry learn`: observe normal operation, from a recording (--from) or by polling the config's
// devices for a while (--duration), and write a reviewable baseline rules file (--out).
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Logger } from '../../protocols/log.js';
import { packageVersion } from '../../protocols/package.js';
import { pollDevices } from '../record/record.js';
import { openRecording, type CsvOptions, type RecordEvent } from '../../rules/recording/recording.js';
import { ReplayUsageError } from './replay.js';
import { Learner, type LearnResult } from '../../rules/learn/learner.js';
import type { LearnOptions } from '../../rules/learn/options.js';
import { baselineYaml } from '../../rules/learn/write.js';
import { OperationalError } from '../../protocols/errors.js';

export interface LearnCommandOptions extends CsvOptions {
  config?: string;
  from?: string;
  durationMs?: number;
  out: string;
  learn: Partial<LearnOptions>;
  logger: Logger;
  stop?: Promise<unknown>;
  print: (text: string) => void;
}

/** Drops the samples of CSV rows not labelled normal (attacks and unlabelled rows). */
async function* normalRows(events: AsyncIterable<RecordEvent>): AsyncGenerator<RecordEvent> {
  let row: RecordEvent[] = [];
  for await (const ev of events) {
    if (ev.kind !== 'cycle') {
      row.push(ev);
      continue;
    }
    if (ev.label === 0 || ev.label === undefined) {
      yield* row;
      yield ev;
    }
    row = [];
  }
  yield* row;
}

export async function learnCommand(o: LearnCommandOptions): Promise<LearnResult> {
  if ((o.from === undefined) === (o.durationMs === undefined)) throw new ReplayUsageError('give --from RECORDING (learn from a recording) or --duration 1h (poll the devices of --config)');
  const loaded = o.config ? loadConfig(o.config, { checkSecrets: false }) : undefined;
  let result: LearnResult;
  let source: string;
  if (o.from !== undefined) {
    const device = o.device ?? (loaded?.config.devices.length === 1 ? loaded.config.devices[0].id : undefined);
    const rec = await openRecording(o.from, { ...o, device });
    const learner = new Learner(loaded ? loaded.config.devices : rec.devices, o.learn);
    result = await learner.run(o.labels ? normalRows(rec.events()) : rec.events());
    source = `${path.basename(o.from)}${o.labels ? ` (rows with ${o.labels} = 0)` : ''}`;
  } else {
    if (!loaded) throw new ReplayUsageError('--duration polls the devices of a config: give --config FILE');
    const learner = new Learner(loaded.config.devices, o.learn);
    o.print(`learning from ${loaded.config.devices.filter((d) => d.enabled).length} device(s) of ${loaded.file} for ${Math.round(o.durationMs! / 1000)} s (Ctrl-C ends early) ...\n`);
    await pollDevices(loaded, (out) => learner.cycle(out), { logger: o.logger, durationMs: o.durationMs, stop: o.stop });
    result = learner.result();
    source = `live polling of ${path.basename(loaded.file)} for ${Math.round(o.durationMs! / 1000)} s`;
  }
  const text = baselineYaml(result, { source, version: packageVersion() });
  try {
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    fs.writeFileSync(o.out, text);
  } catch (e) {
    throw new OperationalError('out_file', `cannot write ${path.resolve(o.out)} (${(e as NodeJS.ErrnoException).code}); give a writable path to --out`, 'cli');
  }
  const byType = new Map<string, number>();
  for (const r of result.rules) byType.set(String(r.rule.type), (byType.get(String(r.rule.type)) ?? 0) + 1);
  o.print(`learned ${result.rules.length} rules (${[...byType].map(([t, n]) => `${n} ${t}`).join(', ') || 'none'}) from ${result.samples} samples -> ${o.out}\n`);
  const sparse = result.devices.flatMap((d) => Object.entries(d.kinds).filter(([, k]) => k === 'sparse').map(([t]) => `${d.id}/${t}`));
  if (sparse.length) o.print(`no rule for ${sparse.length} tag${sparse.length === 1 ? '' : 's'} seen in fewer than ${result.options.min_cycles} cycles (${sparse.slice(0, 5).join(', ')}${sparse.length > 5 ? ', ...' : ''}): learn longer\n`);
  if (result.rules.length === 0) o.print('nothing was learned: no device of the recording matched, or it is too short\n');
  return result;
}
