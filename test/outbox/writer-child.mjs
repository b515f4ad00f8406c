// Child process for the SIGKILL test: appends batches to an outbox as fast as it can and
// reports each commit on stdout ("C <last seq>", "A <first>-<last>" for acks) until killed.
import path from 'node:path';
import { SqliteOutbox } from '../../dist/agent/outbox/index.js';
import { loadSigningKey } from '../../dist/agent/signing/keys.js';

const file = process.argv[2];
const box = SqliteOutbox.open({
  file,
  signer: (recorded) => loadSigningKey(path.dirname(file), { create: recorded === undefined }),
  agent: 'gw-kill',
  site: 'plant-k',
  limits: { max_events: 1_000_000, max_bytes: 512 * 1024 * 1024, max_age_hours: 720 },
});
let n = 0;
const draft = () => ({
  ts: new Date().toISOString(),
  device: `plc-${n % 7}`,
  rule: 'range.level',
  category: 'anomaly',
  severity: ['info', 'low', 'medium', 'high', 'critical'][n % 5],
  state: 'raised',
  score: n % 100,
  message: `event ${++n}`,
  observed: { value: n, text: 'x'.repeat(n % 300) },
});
for (;;) {
  const size = 1 + (n % 37);
  const out = box.append(Array.from({ length: size }, draft));
  process.stdout.write(`C ${out[out.length - 1].seq}\n`);
  if (n % 5 === 0) {
    // Ack the oldest few, as the forwarder would after PUBACKs.
    const seqs = box.pending(3).map((e) => e.seq);
    box.ack(seqs);
    if (seqs.length > 0) process.stdout.write(`A ${seqs.join(',')}\n`);
  }
}
