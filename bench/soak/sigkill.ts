// Soak section `sigkill` (fault suite, issue 8): 30 random SIGKILLs of the real agent while the
// signal flood runs; afterwards every committed seq has arrived at the capture, in order.
import { withSoakBroker } from './faults/mosquitto.js';
import { runSigkill } from './faults/sigkill.js';
import type { SoakSection } from './sections.js';

export const sigkillSection: SoakSection = {
  name: 'sigkill',
  title: '30 random SIGKILLs of the agent under a signal flood; every committed seq arrives, in order',
  run: (say) => withSoakBroker('sigkill', async (broker, dir) => (await runSigkill({ broker, dir, kills: 30, minUpMs: 2000, maxUpMs: 12_000, tailMs: 10_000, say })).ok),
};
