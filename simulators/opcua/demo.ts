// The OPC UA part of `otsentry demo --opcua`: one simulated tank behind an OPC UA server beside the
// Modbus PLCs, paired with the demo agent (both certificates trusted, as `otsentry trust` and
// --trust-client would do), its device and rules for the agent config, and its scenarios.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../protocols/log.js';
import { opcuaAgentConfig, pairAgentWithSimulator } from './agent-config.js';
import { DEFAULT_SIM_USER } from './config.js';
import { OPCUA_SCENARIO_NAMES, startOpcuaSimulator, tankOpcuaConfig, type OpcuaSimulator } from './index.js';

export interface OpcuaDemo {
  readonly sim: OpcuaSimulator;
  /** the OPC UA device(s) and their rules, to add to the demo agent config */
  readonly devices: Record<string, unknown>[];
  readonly rules: Record<string, unknown>[];
  /** one line for the demo banner */
  readonly banner: string;
  stop(): Promise<void>;
}

/** Scenarios only the OPC UA server has (the process attacks run on the Modbus PLC as before). */
export const OPCUA_ONLY_SCENARIOS = OPCUA_SCENARIO_NAMES.filter((n) => !['setpoint-tamper', 'firmware-swap', 'sensor-spoof', 'sensor-freeze', 'pump-toggle'].includes(n));

export async function startOpcuaDemo(o: { workDir: string; dataDir: string; brokerUrl: string; logger: Logger }): Promise<OpcuaDemo> {
  const sim = await startOpcuaSimulator(tankOpcuaConfig({ servers: 1 }), { logger: o.logger });
  try {
    await pairAgentWithSimulator(sim, o.dataDir);
    const passwordFile = path.join(o.workDir, 'opcua-password');
    fs.writeFileSync(passwordFile, `${DEFAULT_SIM_USER.password}\n`, { mode: 0o600 });
    const cfg = opcuaAgentConfig({
      brokerUrl: o.brokerUrl,
      dataDir: o.dataDir,
      servers: sim.servers,
      passwordFile,
      // The demo shows posture changes within seconds.
      device: { posture_interval_ms: 2000, identity_interval_ms: 5000 },
      suffixRuleIds: true,
    });
    const s = sim.servers[0];
    return {
      sim,
      devices: cfg.devices as Record<string, unknown>[],
      rules: cfg.rules as Record<string, unknown>[],
      banner: `OPC UA server ${s.id} at ${s.endpoint_url} (Basic256Sha256 SignAndEncrypt, certificate ${s.certificate?.thumbprint.slice(0, 12)}...)`,
      stop: () => sim.stop(),
    };
  } catch (e) {
    await sim.stop().catch(() => undefined);
    throw e;
  }
}
