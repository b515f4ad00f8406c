// Child process for the Last Will test: an outbox plus a forwarder, as the agent runs them.
// Args: BROKER_URL DATA_FILE APPEND_COUNT. Prints "C <seq>" per commit and "online" once connected.
import path from 'node:path';
import { SqliteOutbox } from '../../dist/agent/outbox/index.js';
import { Forwarder } from '../../dist/agent/forward/index.js';
import { loadSigningKey } from '../../dist/agent/signing/keys.js';

const [url, file, countArg] = process.argv.slice(2);
// Successive children share the outbox file, so they share its signing key too.
const signer = (recorded) => loadSigningKey(path.dirname(file), { create: recorded === undefined });
const box = SqliteOutbox.open({ file, agent: 'gw-lwt', site: 'plant-l', limits: { max_events: 1_000_000, max_bytes: 512 * 1024 * 1024, max_age_hours: 720 }, signer });
const f = new Forwarder({
  broker: {
    url,
    topic_prefix: 'otsentry',
    keepalive_secs: 30,
    connect_timeout_ms: 3000,
    reconnect_min_ms: 100,
    reconnect_max_ms: 1000,
    max_inflight: 8,
    status_interval_ms: 30_000,
  },
  agent: 'gw-lwt',
  site: 'plant-l',
  outbox: box,
  version: '1.2.3-child',
});
f.start();
const wait = setInterval(() => {
  if (f.stats().connected) {
    clearInterval(wait);
    process.stdout.write('online\n');
  }
}, 10);
let left = Number(countArg);
let n = 0;
const feed = setInterval(() => {
  if (left <= 0) return clearInterval(feed);
  const batch = Array.from({ length: Math.min(50, left) }, () => ({
    ts: new Date().toISOString(),
    device: 'plc-1',
    rule: 'whitelist.fc',
    category: 'whitelist',
    severity: 'high',
    state: 'raised',
    score: 80,
    message: `Unexpected function code (${++n}).`,
  }));
  left -= batch.length;
  const out = box.append(batch);
  process.stdout.write(`C ${out[out.length - 1].seq}\n`);
  f.notify();
}, 5);
