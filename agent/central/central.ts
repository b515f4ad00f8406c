// The central process (`otsentry central --config central.yaml`): opens the store, connects to
// the broker, judges and stores every message (ingest.ts), sweeps the agents for stalls, holes
// past their grace period and waiting events (watch.ts), runs retention on its interval, serves
// metrics, and starts the registered parts (SIEM outputs, console) after all that is up; stops
// them in reverse before closing the store.
import fs from 'node:fs';
import os from 'node:os';
import type { Logger } from '../../protocols/log.js';
import { packageVersion } from '../../protocols/package.js';
import { serveRegistry, type MetricsServer } from '../metrics.js';
import { AgentBook } from './agents.js';
import { ChainKeeper } from './chain.js';
import type { LoadedCentralConfig } from './config/load.js';
import { CentralFeed } from './feed.js';
import { Findings } from './findings.js';
import { Ingest } from './ingest.js';
import { CentralLink, centralTopics } from './link.js';
import { centralRegistry } from './metrics.js';
import { partStarters, type CentralContext, type CentralPart, type PartStarter } from './parts.js';
import { openStore } from './store/open.js';
import type { CentralStore } from './store/types.js';
import { SigPool } from './sigpool.js';
import { sweep } from './watch.js';

export interface CentralOptions {
  log: Logger;
  /** wall clock in ms; injectable for tests */
  now?: () => number;
  /** how often agents are swept (stall, gap grace, key wait); 0: only when sweep() is called (tests) */
  sweepMs?: number;
  /** parts to start; default the registered partStarters */
  parts?: readonly PartStarter[];
}

export interface Central {
  store: CentralStore;
  feed: CentralFeed;
  ingest: Ingest;
  link: CentralLink;
  findings: Findings;
  book: AgentBook;
  parts: CentralPart[];
  metrics?: MetricsServer;
  /** one sweep now */
  sweep(): Promise<void>;
  /** one retention run now */
  retain(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCentral(loaded: LoadedCentralConfig, o: CentralOptions): Promise<Central> {
  const { config } = loaded;
  const log = o.log;
  const now = o.now ?? Date.now;
  fs.mkdirSync(loaded.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(config.store, loaded.dataDir, loaded.baseDir);
  const feed = new CentralFeed();
  const findings = new Findings(store, feed, log.child({ stage: 'verify' }), now);
  const book = new AgentBook(store, feed, findings, config.verify, config.central.id, now);
  const chain = new ChainKeeper(store, book, findings, config.verify, now);
  const sigs = new SigPool(config.verify.workers ?? Math.min(4, Math.max(0, os.availableParallelism() - 1)), log.child({ stage: 'verify' }));
  const ingest = new Ingest(config.broker.topic_prefix, store, feed, book, chain, findings, config.verify, log.child({ stage: 'ingest' }), now, sigs);
  const link = new CentralLink(config.broker, config.central.id, loaded.baseDir, log.child({ stage: 'broker' }), (m) => ingest.push(m));
  const timers: NodeJS.Timeout[] = [];
  const parts: CentralPart[] = [];
  let metrics: MetricsServer | undefined;

  let sweeping: Promise<void> | undefined;
  const doSweep = async () => {
    // One sweep at a time, after what was received is judged (a sweep must not race the batch).
    while (sweeping) await sweeping;
    sweeping = (async () => {
      await ingest.idle();
      await sweep(book, chain, ingest, findings, config.verify, now());
    })();
    try {
      await sweeping;
    } finally {
      sweeping = undefined;
    }
  };
  const retain = async () => {
    const r = config.retention;
    const pruned = await store.prune({ max_age_ms: r.max_age_days * 86_400_000, max_bytes: r.max_bytes, now_ms: now() });
    if (pruned.signals + pruned.findings > 0) log.info({ stage: 'retention', ...pruned }, `Retention dropped ${pruned.signals} signals and ${pruned.findings} findings (older than ${r.max_age_days} days or over ${r.max_bytes} bytes).`);
  };
  const loop = (ms: number, what: string, fn: () => Promise<void>) => {
    const t = setInterval(() => fn().catch((e: Error) => log.error({ error_code: `${what}_failed`, err: e.message }, `${what} failed (${e.message}); it runs again in ${ms / 1000} s.`)), ms);
    t.unref();
    timers.push(t);
  };

  const stop = async () => {
    for (const t of timers) clearInterval(t);
    for (const p of parts.splice(0).reverse()) await p.stop().catch((e: Error) => log.error({ part: p.name, err: e.message }, `Stopping ${p.name} failed (${e.message}).`));
    // The batch being judged finishes and is acked while the connection is still up; what is
    // queued behind it is not acked and comes again from the broker session.
    await ingest.stop();
    await link.stop();
    await sweeping?.catch(() => undefined);
    await metrics?.close();
    await sigs.close();
    await store.close();
  };

  try {
    // Store refreshes agent records from before a restart: their keys stay pinned.
    for (const rec of await store.listAgents()) book.put(rec);
    // Metrics first: they show a broker that cannot be reached, and a backlog drained at startup.
    const registry = config.central.metrics_listen !== undefined ? centralRegistry({ ingest, findings, book, chain, link }) : undefined;
    if (registry !== undefined) metrics = await serveRegistry(registry, config.central.metrics_listen!, 'central.metrics_listen', log);
    await link.start();
    const topics = centralTopics(config.broker);
    log.info({ store: store.kind, topics: Object.values(topics), signature_threads: sigs.threads }, `Central ${config.central.id} receiving ${topics.events} into ${store.kind}.`);
    const sweepMs = o.sweepMs ?? 2000;
    if (sweepMs > 0) loop(sweepMs, 'sweep', doSweep);
    loop(config.retention.interval_secs * 1000, 'retention', retain);
    const ctx: CentralContext = { config, baseDir: loaded.baseDir, dataDir: loaded.dataDir, store, feed, log, version: packageVersion(), metrics: registry };
    for (const start of o.parts ?? partStarters) {
      const part = await start(ctx);
      if (part === undefined) continue;
      parts.push(part);
      log.info({ part: part.name, url: part.url }, `Started ${part.name}${part.url ? ` at ${part.url}` : ''}.`);
    }
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
  return { store, feed, ingest, link, findings, book, parts, metrics, sweep: doSweep, retain, stop };
}
