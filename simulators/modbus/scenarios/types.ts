// The shape of an attack scenario module: name, description, params schema, start and stop on its
// target (a Modbus PLC here; an OPC UA server in simulators/opcua). A scenario keeps everything it
// needs in the state start() returns; modules hold no state (STYLE 11).
import type { z } from 'zod';
import type { ModelType } from '../models/index.js';
import type { Plc } from '../plc.js';
import { OperationalError } from '../../../protocols/errors.js';

export interface ScenarioModule<P = any, S = any, T = Plc> {
  readonly name: string;
  readonly description: string;
  /** process models the scenario makes sense on */
  readonly models: readonly ModelType[];
  /** params with their defaults; unknown keys are refused */
  readonly params: z.ZodType<P>;
  start(target: T, params: P): S | Promise<S>;
  /** Undo what start did, as far as it can be undone. */
  stop(target: T, state: S): void | Promise<void>;
}

export function defineScenario<P, S, T = Plc>(m: ScenarioModule<P, S, T>): ScenarioModule<P, S, T> {
  return m;
}

export class ScenarioError extends OperationalError {
  constructor(message: string) {
    super('scenario_error', message, 'simulate');
  }
}
