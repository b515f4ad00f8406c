// The shape of an attack scenario module: name, description, params schema, start and stop on a PLC.
// A scenario keeps everything it needs in the state start() returns; modules hold no state (STYLE 11).
import type { z } from 'zod';
import type { ModelType } from '../models/index.js';
import type { Plc } from '../plc.js';

export interface ScenarioModule<P = any, S = any> {
  readonly name: string;
  readonly description: string;
  /** process models the scenario makes sense on */
  readonly models: readonly ModelType[];
  /** params with their defaults; unknown keys are refused */
  readonly params: z.ZodType<P>;
  start(plc: Plc, params: P): S | Promise<S>;
  /** Undo what start did, as far as it can be undone. */
  stop(plc: Plc, state: S): void | Promise<void>;
}

export function defineScenario<P, S>(m: ScenarioModule<P, S>): ScenarioModule<P, S> {
  return m;
}

export class ScenarioError extends Error {
  readonly code = 'scenario_error';
}
