// sensor-freeze: readings stay at their last value while the process moves on (a frozen transmitter or a replay).
import { z } from 'zod';
import { defineScenario } from './types.js';

const params = z
  .object({
    tags: z.array(z.string().min(1)).min(1).optional().describe('Readings to freeze; default the model sensors (level and flow_rate on the tank)'),
  })
  .strict();

export default defineScenario({
  name: 'sensor-freeze',
  description: 'Level and flow readings freeze at their last value while the plant keeps moving.',
  models: ['tank', 'bench'],
  params,
  start(plc, p) {
    const undos = (p.tags ?? plc.model.sensorTags).map((name) => {
      const frozen = plc.readTag(name);
      return plc.overrideReading(name, () => frozen);
    });
    return { undos };
  },
  stop(_plc, s) {
    for (const undo of s.undos) undo();
  },
});
