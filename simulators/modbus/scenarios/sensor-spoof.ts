// sensor-spoof: a reading reports implausible values, alternating out of range and sudden jumps.
import { z } from 'zod';
import { defineScenario } from './types.js';

const params = z
  .object({
    tags: z.array(z.string().min(1)).min(1).optional().describe('Readings to spoof; default the first sensor of the model (level on the tank)'),
    mode: z.enum(['out_of_range', 'jumps', 'both']).default('both'),
    period_ms: z.number().int().min(10).default(2000).describe('How long each spoofed value holds (plant time)'),
    high: z.number().finite().optional().describe('Out-of-range high value; default normal max + 2 x normal span'),
    low: z.number().finite().optional().describe('Out-of-range low value; default normal min - normal span'),
    jump: z.number().finite().optional().describe('Size of a jump; default 0.6 x normal span'),
  })
  .strict();

export default defineScenario({
  name: 'sensor-spoof',
  description: 'A reading (the tank level by default) reports implausible values: out of its range and sudden jumps, while the plant runs on.',
  models: ['tank', 'bench'],
  params,
  start(plc, p) {
    const t0 = plc.timeMs;
    const undos = (p.tags ?? plc.model.sensorTags.slice(0, 1)).map((name) => {
      const [min, max] = plc.tag(name).normal ?? [0, 100];
      const span = Math.max(max - min, 1e-3);
      const high = p.high ?? max + 2 * span;
      const low = p.low ?? min - span;
      const jump = p.jump ?? 0.6 * span;
      return plc.overrideReading(name, (value, timeMs) => {
        const k = Math.floor((timeMs - t0) / p.period_ms);
        const phase = p.mode === 'both' ? k % 4 : p.mode === 'jumps' ? 1 + 2 * (k % 2) : 2 * (k % 2);
        // 0 high, 1 jump up, 2 low, 3 jump down
        return phase === 0 ? high : phase === 1 ? value + jump : phase === 2 ? low : value - jump;
      });
    });
    return { undos };
  },
  stop(_plc, s) {
    for (const undo of s.undos) undo();
  },
});
