// OPC UA simulator scenarios: the Modbus simulator's scenario shape, with an OPC UA server as target.
import type { ScenarioModule } from '../../modbus/scenarios/types.js';
import { defineScenario } from '../../modbus/scenarios/types.js';
import type { SimServer } from '../server.js';

export type OpcuaScenarioModule<P = any, S = any> = ScenarioModule<P, S, SimServer>;

export function defineOpcuaScenario<P, S>(m: OpcuaScenarioModule<P, S>): OpcuaScenarioModule<P, S> {
  return defineScenario(m);
}
