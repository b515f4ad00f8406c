// Soak section `opcua-garbage` (fault suite, issue 8): 3,000 connects of the real OPC UA poller to
// an endpoint answering its Hello with random and mutated frames; no crash, every one reported.
import { runOpcuaGarbage } from './faults/opcua-garbage.js';
import type { SoakSection } from './sections.js';

export const opcuaGarbageSection: SoakSection = {
  name: 'opcua-garbage',
  title: 'garbage from an OPC UA endpoint: 3,000 connects with random and mutated answers; no crash, every one a stable error, memory bounded',
  run: async (say) => (await runOpcuaGarbage({ attempts: 3000, say })).ok,
};
