// plc-offline: the PLC stops answering (connections dropped, new ones refused) and comes back at the end.
import { z } from 'zod';
import { defineScenario } from './types.js';

export default defineScenario({
  name: 'plc-offline',
  description: 'Closes every connection and refuses new ones (port closed); listens again on the same port when it ends.',
  models: ['tank', 'bench'],
  params: z.object({}).strict(),
  async start(plc) {
    await plc.setOffline(true);
    return {};
  },
  async stop(plc) {
    await plc.setOffline(false);
  },
});
