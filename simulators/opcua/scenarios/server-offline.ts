// server-offline: the OPC UA server drops every connection and closes its port; it listens again at the end.
import { z } from 'zod';
import { defineOpcuaScenario } from './types.js';

export default defineOpcuaScenario({
  name: 'server-offline',
  description: 'Drops every connection and refuses new ones (port closed); listens again on the same port when it ends.',
  models: ['tank', 'bench'],
  params: z.object({}).strict(),
  async start(server) {
    await server.setOffline(true);
    return {};
  },
  async stop(server) {
    await server.setOffline(false);
  },
});
