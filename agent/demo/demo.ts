// `otsentry demo`: simulated PLCs, an MQTT broker (embedded unless --broker), the real agent
// built from a generated config exactly as `run` builds it, the central process verifying and
// storing what arrives (and its console, when one is registered), and a live view of the risk
// signals as the broker delivers them. With --scenario an attack starts after about 10 s of normal
// operation; with --duration the run ends on its own and exits 0.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../../protocols/log.js';
import { runAgent } from '../runtime.js';
import { startEmbeddedBroker } from '../broker/embedded.js';
import { startModbusSimulator, SCENARIO_NAMES, tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { startLiveView } from './view.js';
import { demoAgentConfig } from './config.js';
import { startDemoCentral } from './central.js';
import { OPCUA_ONLY_SCENARIOS, startOpcuaDemo, type OpcuaDemo } from '../../simulators/opcua/demo.js';
import { OperationalError } from '../../protocols/errors.js';

export interface DemoOptions {
  broker?: string;
  scenario?: string;
  durationMs?: number;
  plcs: number;
  dataDir?: string;
  json: boolean;
  /** also run a tank behind an OPC UA server (secure channel, posture audit) */
  opcua?: boolean;
  /** resolves when the user interrupts (Ctrl-C) */
  stopSignal: Promise<unknown>;
  out?: NodeJS.WritableStream;
}

/** Normal operation before the attack starts. */
export const DEMO_ATTACK_AT_MS = 10_000;

export class DemoError extends OperationalError {
  constructor(message: string) {
    super('demo', message, 'cli');
  }
}

export async function runDemo(o: DemoOptions): Promise<void> {
  const out = o.out ?? process.stdout;
  const say = (line: string) => {
    if (!o.json) out.write(line + '\n');
  };
  // Scenarios only the OPC UA server has run there; the process attacks stay on the first Modbus PLC.
  const uaOnly = o.opcua === true && o.scenario !== undefined && OPCUA_ONLY_SCENARIOS.includes(o.scenario);
  if (o.scenario !== undefined && !SCENARIO_NAMES.includes(o.scenario) && !uaOnly) {
    const ua = OPCUA_ONLY_SCENARIOS.includes(o.scenario) ? ' (it needs --opcua)' : `; with --opcua also: ${OPCUA_ONLY_SCENARIOS.join(', ')}`;
    throw new DemoError(`--scenario ${o.scenario} is unknown; choose one of: ${SCENARIO_NAMES.join(', ')}${ua}`);
  }
  if (o.plcs < 1 || o.plcs > 50) throw new DemoError(`--plcs ${o.plcs}: give 1 to 50`);
  if (o.durationMs !== undefined && o.scenario !== undefined && o.durationMs < DEMO_ATTACK_AT_MS + 5000) {
    throw new DemoError(`--duration must be at least ${(DEMO_ATTACK_AT_MS + 5000) / 1000}s with --scenario: the attack starts after ${DEMO_ATTACK_AT_MS / 1000}s of normal operation`);
  }
  const tmp = o.dataDir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-demo-'));
  const workDir = o.dataDir ? path.resolve(o.dataDir) : tmp!;
  fs.mkdirSync(workDir, { recursive: true });
  // The live view tells the story; agent warnings would only interleave with it (OTSENTRY_LOG_LEVEL=warn shows them).
  const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'error');

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const sim = await startModbusSimulator(tankSimulatorConfig({ plcs: o.plcs }), { logger: logger.child({ stage: 'simulator' }) });
    cleanups.push(() => sim.stop());
    let brokerUrl = o.broker;
    let embedded = false;
    if (!brokerUrl) {
      const broker = await startEmbeddedBroker({ port: 0 });
      cleanups.push(() => broker.stop());
      brokerUrl = broker.url;
      embedded = true;
    }
    const configFile = path.join(workDir, 'agent.yaml');
    const raw = demoAgentConfig({ brokerUrl, dataDir: path.join(workDir, 'data'), plcs: sim.plcs, protocolVersion: embedded ? 4 : undefined });
    let ua: OpcuaDemo | undefined;
    if (o.opcua) {
      ua = await startOpcuaDemo({ workDir, dataDir: path.join(workDir, 'data'), brokerUrl, logger: logger.child({ stage: 'opcua-simulator' }) });
      cleanups.push(() => ua!.stop());
      raw.devices = [...(raw.devices as unknown[]), ...ua.devices];
      raw.rules = [...(raw.rules as unknown[]), ...ua.rules];
    }
    fs.writeFileSync(configFile, stringify(raw));
    const loaded = loadConfig(configFile);
    const prefix = loaded.config.broker.topic_prefix;

    say(`otsentry demo: ${sim.plcs.length} simulated tank PLC${sim.plcs.length > 1 ? 's' : ''} (${sim.plcs.map((p) => `${p.id} at ${p.host}:${p.port}`).join(', ')})`);
    if (ua) say(ua.banner);
    // Central first, so it sees the agent's chain from seq 1.
    const central = await startDemoCentral({ workDir, brokerUrl, embedded, logger });
    cleanups.push(() => central.central.stop());
    say(`broker ${brokerUrl}${embedded ? ' (embedded)' : ''}; agent config ${configFile}`);
    for (const line of central.banner) say(line);
    say(`watch it yourself: mosquitto_sub -L '${brokerUrl.replace(/\/$/, '')}/${prefix}/#' -v`);
    say(o.scenario ? `attack '${o.scenario}' on ${uaOnly ? ua!.sim.servers[0].id : sim.plcs[0].id} starts in ${DEMO_ATTACK_AT_MS / 1000}s` : `no attack scenario; try --scenario ${[...SCENARIO_NAMES, ...(o.opcua ? OPCUA_ONLY_SCENARIOS : [])].join('|')}`);
    say('');

    const view = await startLiveView({ url: brokerUrl, prefix, json: o.json, out });
    cleanups.push(() => view.stop());
    const agent = await runAgent(loaded, { logger });
    cleanups.push(() => agent.stop());

    const timers: NodeJS.Timeout[] = [];
    if (o.scenario) {
      const name = o.scenario;
      const plc = uaOnly ? ua!.sim.servers[0].id : sim.plcs[0].id;
      const target = uaOnly ? ua!.sim : sim;
      // The attack ends early enough before the end of the run for clearing signals to show.
      const attackMs = o.durationMs !== undefined ? Math.max(5000, Math.round((o.durationMs - DEMO_ATTACK_AT_MS) * 0.6)) : 60_000;
      timers.push(
        setTimeout(() => {
          say(`>>> attack '${name}' started on ${plc}`);
          target.startScenario(name, plc).catch((e) => say(`attack ${name} could not start: ${(e as Error).message}`));
          timers.push(
            setTimeout(() => {
              say(`>>> attack '${name}' stopped on ${plc}`);
              void target.stopScenario(name, plc);
            }, attackMs),
          );
        }, DEMO_ATTACK_AT_MS),
      );
    }
    const ended = o.durationMs !== undefined ? new Promise((r) => setTimeout(r, o.durationMs).unref()) : new Promise(() => undefined);
    await Promise.race([ended, o.stopSignal]);
    for (const t of timers) clearTimeout(t);
    // Stop the agent first and give the broker a moment to deliver its last signals to the view.
    await agent.stop();
    await new Promise((r) => setTimeout(r, 500));
    const st = view.stats;
    if (!o.json) {
      say('');
      const sev = Object.entries(st.bySeverity).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
      say(`demo finished: ${st.signals} risk signals (${st.raised} raised, ${st.cleared} cleared; ${sev}); duplicates ${st.duplicates}`);
      say(st.chainProblems.length === 0 ? 'hash chain: intact' : `hash chain problems:\n  ${st.chainProblems.join('\n  ')}`);
      say(await central.summary());
    }
  } finally {
    await cleanup();
  }
}
