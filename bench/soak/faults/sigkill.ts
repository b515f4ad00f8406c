// Fault (a): the real agent is SIGKILLed at random moments while the flood runs; after the last
// restart the independent capture must hold every seq from 1 to the last committed one, in
// order, with a valid chain (duplicates from resends are counted, not errors).
import path from 'node:path';
import { cpuSeconds, scrape, sleep, startAgent, waitFor, waitMetrics, type AgentProcess } from './agent.js';
import { startCapture, type CaptureCheck } from './capture.js';
import { drainAndVerify, FLOOD_EVENTS_TOPIC, startFlood } from './flood.js';
import type { VerifyOutcome } from './verify.js';

export interface FaultBroker {
  url: string;
}

export interface SigkillOptions {
  broker: FaultBroker;
  /** empty folder for the agent's config, data and the capture file */
  dir: string;
  kills: number;
  /** most agent lives last a random time in [minUpMs, maxUpMs] once they deliver again */
  minUpMs: number;
  maxUpMs: number;
  /** flood time after the last restart */
  tailMs: number;
  say?: (line: string) => void;
  random?: () => number;
}

export interface SigkillFigures {
  kills: number;
  /** from the first start to the end of the flood, restarts included */
  seconds: number;
  lastSeq: number;
  /** committed signals per second over that whole time (restarts included) */
  rate: number;
  /** committed signals per second after the last restart (one uninterrupted agent life) */
  tailRate: number;
  /** CPU seconds per second of the agent process after the last restart */
  agentCpu: number;
  check: CaptureCheck;
  verify: VerifyOutcome;
  ok: boolean;
}

export async function runSigkill(o: SigkillOptions): Promise<SigkillFigures> {
  const say = o.say ?? (() => undefined);
  const random = o.random ?? Math.random;
  const file = path.join(o.dir, 'capture.txt');
  const capture = await startCapture(o.broker.url, FLOOD_EVENTS_TOPIC, file);
  const flood = await startFlood(o.dir, o.broker.url);
  let agent: AgentProcess | undefined;
  try {
    const t0 = performance.now();
    agent = startAgent(flood.config);
    for (let k = 1; k <= o.kills; k++) {
      // Each life first proves it delivers (the capture moves on), then runs a random while; about
      // one in three is cut short while it still resends what the previous life left unacked.
      const from = capture.messages();
      await waitFor(() => capture.messages() > from + 50, 20_000, 'the restarted agent to deliver', agent);
      await sleep(random() < 1 / 3 ? random() * 300 : o.minUpMs + random() * (o.maxUpMs - o.minUpMs));
      await agent.kill('SIGKILL');
      say(`SIGKILL ${k}/${o.kills} at ${((performance.now() - t0) / 1000).toFixed(1)} s (capture ${capture.messages()} messages, every seq up to ${capture.contiguous()})`);
      agent = startAgent(flood.config);
    }
    const first = await waitMetrics(agent, flood.metricsUrl);
    const tailFrom = performance.now();
    const cpu0 = cpuSeconds(agent.child.pid);
    await sleep(o.tailMs);
    const last = await scrape(flood.metricsUrl);
    const tailS = (performance.now() - tailFrom) / 1000;
    const tailRate = ((last.get('otsentry_signals_total') ?? 0) - (first.get('otsentry_signals_total') ?? 0)) / tailS;
    const agentCpu = (cpuSeconds(agent.child.pid) - cpu0) / tailS;
    const seconds = (performance.now() - t0) / 1000;
    const v = await drainAndVerify(flood, agent, capture, say);
    const rate = v.lastSeq / seconds;
    say(`flood: ${v.lastSeq} signals committed in ${seconds.toFixed(1)} s = ${rate.toFixed(0)} signals/s with ${o.kills} SIGKILLs; ${tailRate.toFixed(0)} signals/s after the last restart (agent CPU ${agentCpu.toFixed(2)} s/s)`);
    return { kills: o.kills, seconds, lastSeq: v.lastSeq, rate, tailRate, agentCpu, check: v.check, verify: v.verify, ok: v.ok };
  } finally {
    await agent?.kill('SIGKILL');
    await capture.close();
    await flood.sim.stop();
  }
}
