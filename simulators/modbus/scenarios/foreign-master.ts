// foreign-master: another master polls the PLC, so its bus and server message counters grow faster
// than the agent's own requests explain.
import { z } from 'zod';
import { readRequest } from '../pdu.js';
import { defineScenario } from './types.js';

const params = z
  .object({
    rate_per_s: z.number().min(0.1).max(10000).default(50).describe('Requests per second of the other master'),
    unit_id: z.number().int().min(0).max(255).optional().describe('Unit id it addresses; default the PLC itself (other ids only grow the bus counter)'),
  })
  .strict();

export default defineScenario({
  name: 'foreign-master',
  description: "Another master's traffic: FC03 reads at rate_per_s, counted in FC08 bus and server message counters.",
  models: ['tank', 'bench'],
  params,
  start(plc, p) {
    const state = { pending: 0, sent: 0, cancel: () => {} };
    const unitId = p.unit_id ?? plc.unitId;
    state.cancel = plc.every(100, () => {
      state.pending += p.rate_per_s / 10;
      while (state.pending >= 1) {
        state.pending -= 1;
        state.sent++;
        plc.request(readRequest(3, 0, 1), unitId);
      }
    });
    return state;
  },
  stop(_plc, s) {
    s.cancel();
  },
});
