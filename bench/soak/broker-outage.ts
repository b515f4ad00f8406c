// Soak section `broker-outage` (fault suite, issue 8): the broker is down for 10 minutes while the
// signal flood runs; afterwards the backlog drains, in order, and the drain rate is printed.
import { withSoakBroker } from './faults/mosquitto.js';
import { runOutage } from './faults/outage.js';
import type { SoakSection } from './sections.js';

export const outageSection: SoakSection = {
  name: 'broker-outage',
  title: 'broker unreachable for 10 minutes under the signal flood; the backlog drains in order',
  run: (say) => withSoakBroker('outage', async (broker, dir) => (await runOutage({ broker, dir, warmupMs: 10_000, outageMs: 600_000, reportEveryMs: 60_000, say })).ok),
};
