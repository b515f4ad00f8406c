// anonymous-enabled: every endpoint starts accepting anonymous logins; undone at the end.
import { z } from 'zod';
import { defineOpcuaScenario } from './types.js';

export default defineOpcuaScenario({
  name: 'anonymous-enabled',
  description: 'Every endpoint accepts anonymous logins (no user name, no certificate).',
  models: ['tank', 'bench'],
  params: z.object({}).strict(),
  start(server) {
    return { undo: server.allowAnonymous() };
  },
  stop(_server, s) {
    s.undo();
  },
});
