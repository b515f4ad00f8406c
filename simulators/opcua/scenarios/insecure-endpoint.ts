// insecure-endpoint: an endpoint without security (or with a deprecated policy) appears, as after a
// careless commissioning change; it disappears at the end.
import { z } from 'zod';
import { defineOpcuaScenario } from './types.js';

const params = z
  .object({
    policy: z.enum(['None', 'Basic128Rsa15', 'Basic256']).default('None').describe('Policy of the endpoint that appears (None comes with mode None, the others with Sign)'),
  })
  .strict();

export default defineOpcuaScenario({
  name: 'insecure-endpoint',
  description: 'Offers an endpoint with security policy None (or the deprecated Basic128Rsa15 / Basic256) besides the secure ones.',
  models: ['tank', 'bench'],
  params,
  start(server, p) {
    return { undo: server.exposeEndpoint(p.policy, p.policy === 'None' ? 'None' : 'Sign') };
  },
  stop(_server, s) {
    s.undo();
  },
});
