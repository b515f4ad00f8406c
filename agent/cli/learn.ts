// `otsentry learn`: observe normal operation, from a recording (--from) or by polling the config's
// devices for a while (--duration) or until every tag's envelope converged (--until-stable MAX),
// and write a reviewable baseline rules file (--out). Progress goes to stderr while it runs; at the
// end each tag's convergence verdict goes to the console and into the baseline, and the rules of
// unconverged tags carry `review` (they signal at info until approved).
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { Logger } from '../../protocols/log.js';
import { packageVersion } from '../../protocols/package.js';
import { pollDevices } from '../record/record.js';
import { openRecording, type CsvOptions, type RecordEvent } from '../../rules/recording/recording.js';
import { ReplayUsageError } from './replay.js';
import { Learner, type LearnResult } from '../../rules/learn/learner.js';
import type { LearnOptions } from '../../rules/learn/options.js';
import { baselineYaml } from '../../rules/learn/write.js';
import { OperationalError } from '../../protocols/errors.js';
import { markReview, spoken, StableWatch } from '../../rules/learn/convergence.js';
import { ProgressLine, progressEvery, progressText, Throttled, type ProgressStream } from './learn-progress.js';
import { learnReport, type LearnStop } from './learn-report.js';

export interface LearnCommandOptions extends CsvOptions {
  config?: string;
  from?: string;
  durationMs?: number;
  /** learn until every tag converged, at most this long (live: wall clock; --from: recording time) */
  untilStableMs?: number;
  out: string;
  learn: Partial<LearnOptions>;
  logger: Logger;
  stop?: Promise<unknown>;
  print: (text: string) => void;
  /** print one JSON object instead of text (and no progress unless progressMs says so) */
  json?: boolean;
  /** progress every this many ms, 0 none; default: see progressEvery */
  progressMs?: number;
  /** where progress goes; default process.stderr */
  progressOut?: ProgressStream;
}

export interface LearnOutcome extends LearnResult {
  /** ids of the rules written with `review` */
  review: string[];
  stop: LearnStop;
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

function checkUsage(o: LearnCommandOptions): void {
  if (o.from !== undefined && o.durationMs !== undefined) throw new ReplayUsageError('give --from RECORDING or --duration, not both');
  if (o.durationMs !== undefined && o.untilStableMs !== undefined) throw new ReplayUsageError('give --duration (learn this long) or --until-stable MAX (learn until every tag converged, at most MAX), not both');
  if (o.from === undefined && o.durationMs === undefined && o.untilStableMs === undefined) throw new ReplayUsageError('give --from RECORDING (learn from a recording) or --duration 1h (poll the devices of --config)');
  if (o.untilStableMs !== undefined && !(o.untilStableMs > 0)) throw new ReplayUsageError('--until-stable needs a bound above 0, e.g. --until-stable 24h');
}

export async function learnCommand(o: LearnCommandOptions): Promise<LearnOutcome> {
  checkUsage(o);
  const loaded = o.config ? loadConfig(o.config, { checkSecrets: false }) : undefined;
  const err = o.progressOut ?? process.stderr;
  let learner: Learner;
  let stop: LearnStop;
  let source: string;
  if (o.from !== undefined) {
    const device = o.device ?? (loaded?.config.devices.length === 1 ? loaded.config.devices[0].id : undefined);
    const rec = await openRecording(o.from, { ...o, device });
    learner = new Learner(loaded ? loaded.config.devices : rec.devices, o.learn);
    const progress = new ProgressLine(err, progressEvery({ ...o, tty: err.isTTY === true }), progressRenderer(learner, { recording: path.basename(o.from), untilStable: o.untilStableMs !== undefined })).start();
    try {
      stop = await readRecording(learner, o.labels ? normalRows(rec.events()) : rec.events(), o.untilStableMs);
    } finally {
      progress.stop();
    }
    source = `${path.basename(o.from)}${o.labels ? ` (rows with ${o.labels} = 0)` : ''}${stop.kind === 'stable' ? `, up to where every tag converged (after ${spoken(stop.afterMs)} of it)` : stop.kind === 'max' ? `, its first ${spoken(stop.afterMs)} (the --until-stable bound)` : ''}`;
  } else {
    if (!loaded) throw new ReplayUsageError(`${o.durationMs !== undefined ? '--duration' : '--until-stable without --from'} polls the devices of a config: give --config FILE`);
    const devices = loaded.config.devices.filter((d) => d.enabled);
    learner = new Learner(devices, o.learn);
    const bound = o.untilStableMs ?? o.durationMs!;
    if (!o.json) o.print(`learning from ${devices.length} device(s) of ${loaded.file} ${o.untilStableMs !== undefined ? `until every tag converged, at most ${spoken(bound)}` : `for ${spoken(bound)}`} (Ctrl-C ends early) ...\n`);
    stop = await pollLive(learner, loaded, o, bound, err);
    source = `live polling of ${path.basename(loaded.file)} for ${spoken(stop.afterMs)}${stop.kind === 'stable' ? ', until every tag converged' : stop.kind === 'max' ? ' (the --until-stable bound)' : stop.kind === 'signal' ? ' (ended early)' : ''}`;
  }
  const result = learner.result();
  const review = markReview(result.rules, result.convergence);
  const text = baselineYaml(result, { source, version: packageVersion() });
  try {
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    fs.writeFileSync(o.out, text);
  } catch (e) {
    throw new OperationalError('out_file', `cannot write ${path.resolve(o.out)} (${(e as NodeJS.ErrnoException).code}); give a writable path to --out`, 'cli');
  }
  const outcome: LearnOutcome = { ...result, review, stop };
  o.print(learnReport(outcome, { out: o.out, json: o.json, config: o.config, live: o.from === undefined }));
  return outcome;
}

function progressRenderer(learner: Learner, c: { recording?: string; untilStable: boolean; started?: number; boundMs?: number }): () => string {
  const rules = new Throttled(() => learner.rulesSoFar());
  return () => progressText({ learner, rules, untilStable: c.untilStable, recording: c.recording, boundMs: c.boundMs, elapsedMs: c.started === undefined ? undefined : performance.now() - c.started });
}

/** Feeds a recording to the learner; with a bound, stops where every tag converged or at the bound. */
async function readRecording(learner: Learner, events: AsyncIterable<RecordEvent>, untilStableMs: number | undefined): Promise<LearnStop> {
  const watch = untilStableMs !== undefined ? new StableWatch(untilStableMs, () => learner.convergence()) : undefined;
  // The watch looks at cycle ends; a recording without them (samples only) at every sample.
  let cycleEnds = false;
  for await (const ev of events) {
    learner.push(ev);
    if (watch === undefined || ev.kind === 'header') continue;
    const end = ev.kind === 'cycle' || (ev.kind === 'fact' && ev.fact.kind === 'link');
    cycleEnds ||= end;
    if (!end && cycleEnds) continue;
    const ts = ev.kind === 'sample' ? ev.sample.ts : ev.kind === 'fact' ? ev.fact.ts : ev.ts;
    const s = watch.observe(ts);
    if (s !== 'learning') return { kind: s, afterMs: watch.afterMs, at: watch.at, line: ev.line, untilStable: true };
  }
  const p = learner.progress();
  const span = p.first_ts !== undefined && p.last_ts !== undefined ? p.last_ts - p.first_ts : 0;
  return { kind: 'end', afterMs: span, untilStable: watch !== undefined };
}

/** Polls the config's devices until the duration, the --until-stable verdict or bound, or Ctrl-C. */
async function pollLive(learner: Learner, loaded: LoadedConfig, o: LearnCommandOptions, boundMs: number, err: ProgressStream): Promise<LearnStop> {
  const started = performance.now();
  const untilStable = o.untilStableMs !== undefined;
  let signalled = false;
  void o.stop?.then(() => (signalled = true));
  let stable: () => void = () => {};
  const stablePromise = new Promise<void>((r) => (stable = r));
  const watch = untilStable ? new StableWatch(boundMs, () => learner.convergence(), () => learner.progress().devices.every((d) => d.cycles > 0)) : undefined;
  const progress = new ProgressLine(err, progressEvery({ ...o, tty: err.isTTY === true, boundMs }), progressRenderer(learner, { untilStable, started, boundMs })).start();
  try {
    await pollDevices(
      loaded,
      (out) => {
        if (watch?.state === 'stable') return; // stopping: what comes now is after the verdict
        learner.cycle(out);
        const ts = out.facts.find((f) => f.kind === 'link')?.ts ?? out.samples[0]?.ts;
        if (watch && ts !== undefined && watch.observe(ts) === 'stable') stable();
      },
      { logger: o.logger, durationMs: boundMs, stop: Promise.race([stablePromise, ...(o.stop ? [o.stop] : [])]) },
    );
  } finally {
    progress.stop();
  }
  const afterMs = performance.now() - started;
  if (watch?.state === 'stable') return { kind: 'stable', afterMs: watch.afterMs, at: watch.at, untilStable };
  if (signalled) return { kind: 'signal', afterMs, untilStable };
  return { kind: untilStable ? 'max' : 'duration', afterMs, untilStable };
}
