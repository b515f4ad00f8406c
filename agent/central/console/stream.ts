// The console's live stream (Server-Sent Events): every signal, finding, agent and assets change
// central stores, and every response step, as they happen. The browser refreshes its page on
// them; a stream ends when its session does.
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CentralFeed } from '../feed.js';
import type { AgentRecord, AssetsRecord, StoredFinding, StoredSignal } from '../store/types.js';
import { signalView } from './api.js';

const HEARTBEAT_MS = 15_000;

export interface StreamDeps {
  feed: CentralFeed;
  steps: EventEmitter<{ step: [unknown] }>;
  /** false once the session ended (logout, idle, lifetime): the stream closes */
  alive: () => boolean;
  /** open streams' end functions, for the server's stop */
  streams: Set<() => void>;
}

export function openEventStream(req: IncomingMessage, res: ServerResponse, d: StreamDeps): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.write('retry: 3000\n\n');
  const send = (event: string, data: unknown) => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const onSignal = (s: StoredSignal) => send('signal', signalView(s));
  const onFinding = (f: StoredFinding) => send('finding', f);
  const onAgent = (a: AgentRecord) => send('agent', { site: a.site, agent: a.agent, status: a.status_state, chain_state: a.chain_state });
  const onAssets = (a: AssetsRecord) => send('assets', { site: a.site, agent: a.agent, site_level: a.payload.site_level, site_score: a.payload.site_score });
  const onStep = (x: unknown) => send('step', x);
  d.feed.on('signal', onSignal);
  d.feed.on('finding', onFinding);
  d.feed.on('agent', onAgent);
  d.feed.on('assets', onAssets);
  d.steps.on('step', onStep);
  const heartbeat = setInterval(() => (d.alive() ? res.write(': keepalive\n\n') : end()), HEARTBEAT_MS);
  heartbeat.unref();
  let ended = false;
  function end(): void {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    d.feed.off('signal', onSignal);
    d.feed.off('finding', onFinding);
    d.feed.off('agent', onAgent);
    d.feed.off('assets', onAssets);
    d.steps.off('step', onStep);
    d.streams.delete(end);
    res.end();
  }
  d.streams.add(end);
  req.on('close', end);
}
