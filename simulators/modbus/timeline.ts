// The scenario timeline of a config: each entry starts `at` seconds after the simulator and, with a
// duration, stops that long after it started.
import type { Logger } from '../../protocols/log.js';
import type { ScenarioEntry } from './config.js';
import type { ScenarioRun } from './scenarios/runner.js';

export interface Timeline {
  /** Resolves when every entry has started and every entry with a duration has ended (or on cancel). */
  readonly done: Promise<void>;
  cancel(): void;
}

export function runTimeline(
  entries: readonly ScenarioEntry[],
  start: (e: ScenarioEntry) => Promise<ScenarioRun>,
  logger: Logger,
): Timeline {
  const timers = new Set<NodeJS.Timeout>();
  const pending = new Set<() => void>();
  let cancelled = false;
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!cancelled) fn();
    }, ms);
    timers.add(t);
  };
  const done = Promise.all(
    entries.map(
      (e) =>
        new Promise<void>((settle) => {
          const resolve = (): void => {
            pending.delete(resolve);
            settle();
          };
          pending.add(resolve);
          later(e.at * 1000, () => {
            start(e).then(
              (run) => {
                if (e.duration === undefined) return resolve();
                later(e.duration * 1000, () => {
                  run.stop().then(resolve, (err: unknown) => {
                    logger.error({ err, scenario: e.name, plc: e.plc }, 'Scenario could not be stopped.');
                    resolve();
                  });
                });
              },
              (err: unknown) => {
                logger.error({ err, scenario: e.name, plc: e.plc }, 'Scenario could not be started.');
                resolve();
              },
            );
          });
        }),
    ),
  ).then(() => undefined);
  return {
    done,
    cancel() {
      cancelled = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const resolve of [...pending]) resolve();
    },
  };
}
