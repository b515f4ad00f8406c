// An agent process killed with SIGKILL: the broker publishes its retained offline Last Will, and
// a restarted agent delivers every event the dead one had committed. Needs `npm run build`.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, distEntry, startTestBroker } from '../helpers/broker.js';
import { tempDir } from '../outbox/drafts.js';
import { firstArrivals, range } from './fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Agent {
  child: ChildProcess;
  committed: () => number;
  online: Promise<void>;
}

function startAgent(url: string, file: string, count: number): Agent {
  distEntry('agent/forward/index.js');
  const child = spawn(process.execPath, [path.join(here, 'agent-child.mjs'), url, file, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let committed = 0;
  let markOnline: () => void = () => undefined;
  const online = new Promise<void>((resolve) => (markOnline = resolve));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'online') markOnline();
    if (line.startsWith('C ')) committed = Number(line.slice(2));
  });
  return { child, committed: () => committed, online };
}

async function kill(child: ChildProcess): Promise<void> {
  // 'close' comes after the last stdout line was read, so committed() is complete.
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

describe('agent killed', () => {
  it('leaves an offline Last Will and its successor delivers everything', { timeout: 60_000 }, async () => {
    const b = await startTestBroker();
    cleanup.push(() => b.stop());
    const status = await collect(b.url, 'otsentry/plant-l/gw-lwt/status');
    const events = await collect(b.url, 'otsentry/plant-l/gw-lwt/events');
    cleanup.push(() => status.close(), () => events.close());
    const file = path.join(tempDir(), 'outbox.sqlite');

    const first = startAgent(b.url, file, 3000);
    await first.online;
    await status.waitFor((m) => m.some((x) => JSON.parse(x.payload).state === 'online'), 10_000, 'online status');
    await events.waitFor((m) => m.length >= 200, 20_000, '200 events');
    await kill(first.child);
    const committed = first.committed();
    expect(committed).toBeGreaterThanOrEqual(200);

    await status.waitFor((m) => JSON.parse(m[m.length - 1].payload).state === 'offline', 10_000, 'offline Last Will');
    const will = JSON.parse(status.messages[status.messages.length - 1].payload) as Record<string, unknown>;
    expect(will).toMatchObject({ state: 'offline', reason: 'connection_lost', agent: 'gw-lwt', site: 'plant-l', version: '1.2.3-child' });
    // Retained: a late subscriber sees offline too.
    const late = await collect(b.url, 'otsentry/plant-l/gw-lwt/status');
    cleanup.push(() => late.close());
    await late.waitFor((m) => m.length > 0, 5000, 'retained offline status');
    expect(late.messages[0]).toMatchObject({ retain: true });
    expect(JSON.parse(late.messages[0].payload).state).toBe('offline');

    const second = startAgent(b.url, file, 0);
    await second.online;
    await events.waitFor((m) => new Set(firstArrivals(m)).size >= committed, 30_000, `all ${committed} committed events`);
    expect(firstArrivals(events.messages).slice(0, committed)).toEqual(range(1, committed));
    await status.waitFor((m) => JSON.parse(m[m.length - 1].payload).state === 'online', 10_000, 'online again');
  });
});
