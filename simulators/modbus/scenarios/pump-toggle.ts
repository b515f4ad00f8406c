// pump-toggle: the pump is forced on and off against the level controller, rapidly, with impossible
// combinations in between: pump running with no flow, and flow with the pump stopped.
import { z } from 'zod';
import { TankModel } from '../models/tank.js';
import { writeCoilRequest } from '../pdu.js';
import { defineScenario, ScenarioError } from './types.js';

const params = z
  .object({
    toggle_ms: z.number().int().min(50).default(1000).describe('Time between two toggles (wall clock)'),
    anomalies: z.boolean().default(true).describe('Add the phases pump-on-no-flow and flow-without-pump'),
  })
  .strict();

export default defineScenario({
  name: 'pump-toggle',
  description: 'Forces the pump on/off against the controller every toggle_ms, including pump on with no flow and flow without pump.',
  models: ['tank'],
  params,
  start(plc, p) {
    const tank = plc.model;
    if (!(tank instanceof TankModel)) throw new ScenarioError(`pump-toggle: PLC ${plc.id} has no pump; use a tank PLC`);
    const rng = plc.scenarioRng(3);
    const pumpCmd = plc.tag('pump_cmd');
    const state = { phase: 0, undos: [] as Array<() => void>, cancel: () => {} };
    const apply = (): void => {
      for (const undo of state.undos) undo();
      state.undos = [];
      const on = state.phase % 2 === 0;
      plc.request(writeCoilRequest(pumpCmd.address, on));
      tank.forcePump(on);
      if (state.phase === 2) state.undos.push(plc.overrideReading('flow_rate', () => Math.abs(0.01 * rng.gauss())));
      if (state.phase === 3) state.undos.push(plc.overrideReading('flow_rate', () => 11.8 + 0.08 * rng.gauss()));
    };
    apply();
    const phases = p.anomalies ? 4 : 2;
    state.cancel = plc.every(p.toggle_ms, () => {
      state.phase = (state.phase + 1) % phases;
      apply();
    });
    return state;
  },
  stop(plc, s) {
    s.cancel();
    for (const undo of s.undos) undo();
    (plc.model as TankModel).forcePump(null);
  },
});
