import { it } from 'vitest';
import { Forwarder } from '../../agent/forward/index.js';
import { SqliteOutbox } from '../../agent/outbox/index.js';
import { drafts, roomyLimits } from '../outbox/drafts.js';
import { brokerConfig, captureLog } from './fixtures.js';
it('probe', async () => {
  process.env.PW = 's3cret';
  const box = SqliteOutbox.open({ file: ':memory:', agent: 'gw-1', site: 'plant-a', limits: roomyLimits });
  box.append(drafts(2));
  const { logger, lines } = captureLog();
  const f = new Forwarder({ broker: brokerConfig('mqtt://127.0.0.1:18999', { username: 'agent', password: { env: 'PW' }, reconnect_min_ms: 1000 }), agent: 'gw-1', site: 'plant-a', outbox: box, logger });
  f.start();
  await new Promise((r) => setTimeout(r, 1500));
  await f.stop();
  console.log(lines.map((l) => l.msg).join('\n'));
});
