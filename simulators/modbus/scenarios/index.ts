// The registry of attack scenarios, by name.
import firmwareSwap from './firmware-swap.js';
import foreignMaster from './foreign-master.js';
import malformed from './malformed.js';
import plcOffline from './plc-offline.js';
import pumpToggle from './pump-toggle.js';
import sensorFreeze from './sensor-freeze.js';
import sensorSpoof from './sensor-spoof.js';
import setpointTamper from './setpoint-tamper.js';
import slowPlc from './slow-plc.js';
import type { ScenarioModule } from './types.js';

export const SCENARIOS: readonly ScenarioModule[] = [
  setpointTamper,
  firmwareSwap,
  sensorSpoof,
  sensorFreeze,
  pumpToggle,
  plcOffline,
  slowPlc,
  foreignMaster,
  malformed,
];

export const SCENARIO_NAMES = SCENARIOS.map((s) => s.name);

export function findScenario(name: string): ScenarioModule | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

export { ScenarioError, type ScenarioModule } from './types.js';
