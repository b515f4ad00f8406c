// slow-plc: responses leave much later than normal (an overloaded CPU or a congested link).
import { z } from 'zod';
import { defineScenario } from './types.js';

const params = z
  .object({
    delay_ms: z.number().int().min(0).max(600000).optional().describe('Response delay while active; overrides factor'),
    factor: z.number().min(1).default(10).describe('Response delay = factor x the base delay ...'),
    min_delay_ms: z.number().int().min(0).default(200).describe('... but at least this much'),
  })
  .strict();

export default defineScenario({
  name: 'slow-plc',
  description: 'Answers slowly: delay_ms, or factor x the base response delay (at least min_delay_ms).',
  models: ['tank', 'bench'],
  params,
  start(plc, p) {
    const ms = p.delay_ms ?? Math.max(Math.round(plc.config.response_delay_ms * p.factor), p.min_delay_ms);
    return { ms, undo: plc.overrideDelay(ms) };
  },
  stop(_plc, s) {
    s.undo();
  },
});
