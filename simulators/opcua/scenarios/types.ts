// The shape of an OPC UA simulator scenario: name, description, params schema, start and stop on a
// server. Like the Modbus scenarios, a module keeps its state in what start() returns (STYLE 11).
import type { z } from 'zod';
import type { ModelType } from '../../modbus/models/index.js';
import type { SimServer } from '../server.js';

export interface OpcuaScenarioModule<P = any, S = any> {
  readonly name: string;
  readonly description: string;
  /** process models the scenario makes sense on */
  readonly models: readonly ModelType[];
  readonly params: z.ZodType<P>;
  start(server: SimServer, params: P): S | Promise<S>;
  /** Undo what start did. */
  stop(server: SimServer, state: S): void | Promise<void>;
}

export function defineOpcuaScenario<P, S>(m: OpcuaScenarioModule<P, S>): OpcuaScenarioModule<P, S> {
  return m;
}
