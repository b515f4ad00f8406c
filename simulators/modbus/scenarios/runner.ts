// Starting and stopping one scenario on one PLC: params checked against the scenario's schema,
// stop made idempotent.
import type { Plc } from '../plc.js';
import { formatIssues } from '../config.js';
import { findScenario, SCENARIO_NAMES } from './index.js';
import { ScenarioError } from './types.js';

export interface ScenarioRun {
  readonly name: string;
  readonly plc: string;
  /** params after defaults */
  readonly params: unknown;
  /** what start() returned (counters of some scenarios live here) */
  readonly state: unknown;
  readonly startedAt: number;
  readonly active: boolean;
  /** Undo the scenario; calling it again does nothing. */
  stop(): Promise<void>;
}

export async function runScenario(plc: Plc, name: string, rawParams: unknown = {}): Promise<ScenarioRun> {
  const mod = findScenario(name);
  if (!mod) throw new ScenarioError(`unknown scenario ${name}; known: ${SCENARIO_NAMES.join(', ')}`);
  if (!mod.models.includes(plc.model.type)) throw new ScenarioError(`${name} needs a ${mod.models.join(' or ')} PLC; ${plc.id} is a ${plc.model.type}`);
  const parsed = mod.params.safeParse(rawParams ?? {});
  if (!parsed.success) {
    throw new ScenarioError(`${name} params on ${plc.id}:\n${formatIssues(parsed.error.issues, ['params']).join('\n')}`);
  }
  const params = parsed.data;
  const state = await mod.start(plc, params);
  let active = true;
  let stopping: Promise<void> | null = null;
  plc.logger.info({ scenario: name }, 'Scenario started.');
  return {
    name,
    plc: plc.id,
    params,
    state,
    startedAt: Date.now(),
    get active() {
      return active;
    },
    stop() {
      stopping ??= (async () => {
        active = false;
        await mod.stop(plc, state);
        plc.logger.info({ scenario: name }, 'Scenario ended.');
      })();
      return stopping;
    },
  };
}
