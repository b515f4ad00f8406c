// cert-swap: the server presents another certificate (a new key pair), as after an unplanned
// replacement or a man in the middle; by default it also drops the connections, so clients meet
// the new certificate at once. The old certificate comes back at the end.
import { z } from 'zod';
import { defineOpcuaScenario } from './types.js';

const params = z
  .object({
    validity_days: z.number().int().min(1).max(36500).default(365).describe('Validity of the new certificate'),
    start_offset_days: z.number().int().min(0).max(36500).default(0).describe('Its validity starts this many days ago (validity 30 and offset 40: already expired)'),
    subject: z.string().min(1).default('/CN=otsentry-sim-swapped/O=unknown').describe('Subject of the new certificate'),
    drop_connections: z.boolean().default(true).describe('Drop client connections after the swap (as a restart would)'),
  })
  .strict();

export default defineOpcuaScenario({
  name: 'cert-swap',
  description: 'Presents a different server certificate (new key pair); optionally expiring or expired.',
  models: ['tank', 'bench'],
  params,
  async start(server, p) {
    const undo = await server.swapCertificate({ validityDays: p.validity_days, startOffsetDays: p.start_offset_days, subject: p.subject });
    if (p.drop_connections) server.dropConnections();
    return { undo };
  },
  stop(_server, s) {
    s.undo();
  },
});
