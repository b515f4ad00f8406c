// Fault (b): the broker goes away for a while (its process stopped, the port closed) while the
// flood runs; once it is back, everything committed meanwhile arrives, in order. Prints the
// backlog and the drain rate.
import path from 'node:path';
import { scrape, sleep, startAgent, waitFor, waitMetrics, type AgentProcess } from './agent.js';
import { startCapture, type CaptureCheck } from './capture.js';
import { drainAndVerify, FLOOD_EVENTS_TOPIC, startFlood } from './flood.js';
import type { VerifyOutcome } from './verify.js';

/** A broker that keeps sessions across stop/restart (persistence), on the same port. */
export interface RestartableBroker {
  url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export interface OutageOptions {
  broker: RestartableBroker;
  dir: string;
  /** flood before the outage */
  warmupMs: number;
  outageMs: number;
  /** print the backlog this often during the outage (0 = never) */
  reportEveryMs?: number;
  say?: (line: string) => void;
}

export interface OutageFigures {
  /** signals/s committed before the outage */
  rate: number;
  outageS: number;
  /** events in the outbox when the broker came back */
  backlog: number;
  /** seconds from the broker's return until every event committed before it had arrived */
  catchUpS: number;
  /** events delivered per second during that catch-up (backlog plus what was undelivered before) */
  drainRate: number;
  lastSeq: number;
  check: CaptureCheck;
  verify: VerifyOutcome;
  ok: boolean;
}

export async function runOutage(o: OutageOptions): Promise<OutageFigures> {
  const say = o.say ?? (() => undefined);
  const file = path.join(o.dir, 'capture.txt');
  const capture = await startCapture(o.broker.url, FLOOD_EVENTS_TOPIC, file);
  const flood = await startFlood(o.dir, o.broker.url);
  let agent: AgentProcess | undefined;
  let brokerDown = false;
  try {
    agent = startAgent(flood.config);
    await waitMetrics(agent, flood.metricsUrl);
    await waitFor(() => capture.messages() > 100, 20_000, 'the first signals', agent);
    const m0 = await scrape(flood.metricsUrl);
    const w0 = performance.now();
    await sleep(o.warmupMs);
    const m1 = await scrape(flood.metricsUrl);
    const rate = (signals(m1) - signals(m0)) / ((performance.now() - w0) / 1000);
    const delivered = capture.contiguous();
    await o.broker.stop();
    brokerDown = true;
    const down = performance.now();
    say(`broker stopped at seq ${signals(m1)} committed (flood ${rate.toFixed(0)} signals/s); down for ${(o.outageMs / 1000).toFixed(0)} s`);
    while (performance.now() - down < o.outageMs) {
      const left = o.outageMs - (performance.now() - down);
      await sleep(o.reportEveryMs ? Math.min(left, o.reportEveryMs) : left);
      if (o.reportEveryMs && performance.now() - down < o.outageMs) {
        const m = await scrape(flood.metricsUrl);
        say(`  ${((performance.now() - down) / 1000).toFixed(0)} s down: backlog ${m.get('otsentry_outbox_depth')} events, connected ${m.get('otsentry_broker_connected')}`);
      }
    }
    const atReturn = await scrape(flood.metricsUrl);
    const backlog = atReturn.get('otsentry_outbox_depth') ?? NaN;
    const committed = signals(atReturn);
    const outageS = (performance.now() - down) / 1000;
    await o.broker.restart();
    brokerDown = false;
    const up = performance.now();
    await capture.waitContiguous(committed, Math.max(60_000, o.outageMs * 2));
    const catchUpS = (performance.now() - up) / 1000;
    const drainRate = (committed - delivered) / catchUpS;
    // Meanwhile the flood goes on at about `rate`: the backlog shrinks by the difference.
    say(
      `broker back after ${outageS.toFixed(1)} s with a backlog of ${backlog} events; every seq up to ${committed} arrived ${catchUpS.toFixed(1)} s later: ` +
        `drain ${drainRate.toFixed(0)} events/s while the flood went on (backlog shrinking by about ${(drainRate - rate).toFixed(0)} events/s)`,
    );
    await sleep(1000);
    const v = await drainAndVerify(flood, agent, capture, say);
    return { rate, outageS, backlog, catchUpS, drainRate, lastSeq: v.lastSeq, check: v.check, verify: v.verify, ok: v.ok };
  } finally {
    await agent?.kill('SIGKILL');
    if (brokerDown) await o.broker.restart().catch(() => undefined);
    await capture.close();
    await flood.sim.stop();
  }
}

const signals = (m: Map<string, number>) => m.get('otsentry_signals_total') ?? 0;
