// The registry of OPC UA simulator scenarios: the process attacks of the Modbus simulator, run on
// the same process model behind OPC UA, plus the OPC UA security scenarios.
import firmwareSwap from '../../modbus/scenarios/firmware-swap.js';
import pumpToggle from '../../modbus/scenarios/pump-toggle.js';
import sensorFreeze from '../../modbus/scenarios/sensor-freeze.js';
import sensorSpoof from '../../modbus/scenarios/sensor-spoof.js';
import setpointTamper from '../../modbus/scenarios/setpoint-tamper.js';
import type { ScenarioModule } from '../../modbus/scenarios/types.js';
import anonymousEnabled from './anonymous-enabled.js';
import certSwap from './cert-swap.js';
import clockDrift from './clock-drift.js';
import insecureEndpoint from './insecure-endpoint.js';
import serverOffline from './server-offline.js';
import { defineOpcuaScenario, type OpcuaScenarioModule } from './types.js';

/** A Modbus process scenario acting on the PLC behind the OPC UA server. */
function processScenario(m: ScenarioModule): OpcuaScenarioModule {
  return defineOpcuaScenario({
    name: m.name,
    description: m.description,
    models: m.models,
    params: m.params,
    start: (server, p) => m.start(server.plc, p),
    stop: (server, s) => m.stop(server.plc, s),
  });
}

export const OPCUA_SCENARIOS: readonly OpcuaScenarioModule[] = [
  processScenario(setpointTamper),
  processScenario(firmwareSwap),
  processScenario(sensorSpoof),
  processScenario(sensorFreeze),
  processScenario(pumpToggle),
  serverOffline,
  insecureEndpoint,
  anonymousEnabled,
  certSwap,
  clockDrift,
];

export const OPCUA_SCENARIO_NAMES = OPCUA_SCENARIOS.map((s) => s.name);

export function findOpcuaScenario(name: string): OpcuaScenarioModule | undefined {
  return OPCUA_SCENARIOS.find((s) => s.name === name);
}

export type { OpcuaScenarioModule } from './types.js';
