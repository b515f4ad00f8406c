// Soak section `bad-plcs` (fault suite, issue 8): dead, refused, slow and garbage-answering PLCs
// beside a healthy one for 5 minutes; the healthy one keeps its schedule within 5%.
import { withSoakBroker } from './faults/mosquitto.js';
import { runNeighbours } from './faults/neighbours.js';
import type { SoakSection } from './sections.js';

export const neighboursSection: SoakSection = {
  name: 'bad-plcs',
  title: 'dead, refused, slow and garbage-answering PLCs beside a healthy one for 5 minutes; it keeps its schedule within 5%',
  run: (say) => withSoakBroker('bad-plcs', async (broker, dir) => (await runNeighbours({ brokerUrl: broker.url, dir, windowMs: 300_000, say })).ok),
};
