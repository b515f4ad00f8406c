// clock-drift: the server clock (ServerStatus.CurrentTime) runs off by offset_ms, as when its time
// sync is broken or tampered with (certificate and log time checks then go wrong).
import { z } from 'zod';
import { defineOpcuaScenario } from './types.js';

const params = z
  .object({
    offset_ms: z.number().int().min(-365 * 86_400_000).max(365 * 86_400_000).default(300_000).describe('How far the server clock is off (negative: behind)'),
  })
  .strict();

export default defineOpcuaScenario({
  name: 'clock-drift',
  description: "The server's clock runs offset_ms ahead (or behind) of the real time.",
  models: ['tank', 'bench'],
  params,
  start(server, p) {
    return { undo: server.skewClock(p.offset_ms) };
  },
  stop(_server, s) {
    s.undo();
  },
});
