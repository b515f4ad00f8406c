// A steady flood of risk signals out of the real agent: one bench PLC whose registers step every
// 200 ms, polled every 100 ms by a `rate` rule that any change violates, so each register raises
// on one cycle and clears on the next (about 10 signals/s per register). Flap hold and rate limit
// are turned off so every raise and clear becomes its own event.
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { benchSimulatorConfig, startModbusSimulator, type ModbusSimulator } from '../../../simulators/modbus/index.js';
import { freePort, readOutbox, scrape, type AgentProcess } from './agent.js';
import { checkCapture, describeCheck, type Capture, type CaptureCheck } from './capture.js';
import { agentPublicKey, verifyCapture, type VerifyOutcome } from './verify.js';

export const FLOOD_AGENT = { id: 'gw-faults', site: 'soak' } as const;
export const FLOOD_EVENTS_TOPIC = `otsentry/${FLOOD_AGENT.site}/${FLOOD_AGENT.id}/events`;

/** Registers of the flood PLC: about 10 signals/s each, so 150 aim at 1500/s (a loaded machine gets fewer: the steps and polls drift into each other). */
export const FLOOD_REGISTERS = 150;
const POLL_MS = 100;
const STEP_MS = 200;

export interface Flood {
  sim: ModbusSimulator;
  config: string;
  dataDir: string;
  metricsUrl: string;
  /** stop the signals: the PLC goes offline (refuses connections), so no rule sees a change */
  stopSignals(): Promise<void>;
}

/** Start the flood PLC and write the agent config (in dir) that polls it. */
export async function startFlood(dir: string, brokerUrl: string, registers = FLOOD_REGISTERS): Promise<Flood> {
  const sim = await startModbusSimulator(benchSimulatorConfig({ plcs: 1, registers, tick_ms: STEP_MS }));
  const plc = sim.plcs[0];
  const metricsPort = await freePort();
  const dataDir = path.join(dir, 'data');
  const tags = Array.from({ length: registers }, (_, i) => `reg_${i}`);
  const config = {
    agent: { ...FLOOD_AGENT, data_dir: dataDir, log_level: 'warn', metrics_listen: `127.0.0.1:${metricsPort}` },
    broker: { url: brokerUrl, reconnect_min_ms: 100, reconnect_max_ms: 1000, status_interval_ms: 5000 },
    // Room for a 10-minute outage at this rate (about 1 KB per event): retention must drop nothing.
    outbox: { max_events: 5_000_000, max_bytes: 4 * 1024 * 1024 * 1024, max_age_hours: 720 },
    devices: [
      {
        id: plc.id,
        protocol: 'modbus',
        transport: { type: 'tcp', host: plc.host, port: plc.port },
        interval_ms: POLL_MS,
        timeout_ms: 50,
        identity_interval_ms: 0,
        diagnostics_interval_ms: 0,
        reconnect_min_ms: 100,
        reconnect_max_ms: 1000,
        tags: tags.map((name, address) => ({ name, area: 'holding_register', address, type: 'uint16' })),
      },
    ],
    // Any change at all is "too fast": raised on the cycle that sees a step, cleared on the next.
    rules: [{ id: 'flood.any-change', type: 'rate', device: plc.id, tags, max_per_s: 0.000001, severity: 'low' }],
    alerts: { flap: { threshold: 1_000_000 }, rate_limit: { burst: 1_000_000, per_minute: 1_000_000_000 }, restore_grace_ms: 1000 },
  };
  const file = path.join(dir, 'agent.yaml');
  fs.writeFileSync(file, stringify(config));
  return {
    sim,
    config: file,
    dataDir,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    async stopSignals() {
      await sim.startScenario('plc-offline', plc.id);
    },
  };
}

export interface FloodVerdict {
  /** the newest seq the outbox ever committed (read from the file after the agent stopped) */
  lastSeq: number;
  /** the capture checked by this suite's own code */
  check: CaptureCheck;
  /** the capture checked by `otsentry verify` */
  verify: VerifyOutcome;
  ok: boolean;
}

/**
 * End of a flood run: stop the signals, let the agent drain its outbox, stop it (SIGTERM, exit 0),
 * read the last committed seq from its outbox file, then check the capture against it twice:
 * with this suite's own count and with `otsentry verify` under the agent's public key.
 */
export async function drainAndVerify(flood: Flood, agent: AgentProcess, capture: Capture, say: (line: string) => void): Promise<FloodVerdict> {
  await flood.stopSignals();
  await waitDrained(agent, flood.metricsUrl, 60_000);
  const code = await agent.kill('SIGTERM');
  if (code !== 0) throw new Error(`agent exited with ${code} on SIGTERM:\n${agent.output()}`);
  const state = readOutbox(flood.dataDir);
  if (state.depth !== 0) throw new Error(`outbox still holds ${state.depth} events after draining`);
  // PUBACK means the broker has it; the capture gets it a moment later.
  await capture.waitContiguous(state.lastSeq, 30_000).catch(() => undefined);
  const pem = await agentPublicKey(flood.config);
  const keyFile = path.join(path.dirname(flood.config), 'agent-key.pem');
  fs.writeFileSync(keyFile, pem);
  const check = await checkCapture(capture.file, state.lastSeq, createPublicKey(pem));
  say(`capture: ${describeCheck(check, state.lastSeq)}`);
  const verify = await verifyCapture(capture.file, state.lastSeq, keyFile);
  say(`otsentry verify: ${verify.summary}`);
  return { lastSeq: state.lastSeq, check, verify, ok: check.ok && verify.ok };
}

/** How long the agent must have committed no new signal before it counts as quiet. */
const QUIET_MS = 1000;

/**
 * Wait until the running agent's outbox is empty, nothing is in flight and no signal was committed
 * for QUIET_MS (after stopSignals). The outbox drains faster than a flood fills it, so an empty
 * outbox alone is seen between two commits while the flood is still running down.
 */
export async function waitDrained(agent: AgentProcess, metricsUrl: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let total = NaN, since = Date.now();
  for (;;) {
    const m = await scrape(metricsUrl).catch(() => undefined);
    const t = m?.get('otsentry_signals_total') ?? NaN;
    if (t !== total) (total = t), (since = Date.now());
    if (m && m.get('otsentry_outbox_depth') === 0 && m.get('otsentry_broker_inflight') === 0 && Date.now() - since >= QUIET_MS) return;
    if (Date.now() > until) throw new Error(`agent outbox did not drain within ${timeoutMs} ms (depth ${m?.get('otsentry_outbox_depth')}):\n${agent.output()}`);
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) throw new Error(`agent exited while draining:\n${agent.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
