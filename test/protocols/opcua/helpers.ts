// Helpers of the OPC UA tests: device configs for the simulator's tank, the two-way trust flow
// (agent trusts the server, server trusts the agent), and a temporary agent PKI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { opcuaDeviceSchema, type OpcuaDeviceConfig } from '../../../protocols/opcua/config.js';
import { agentPkiDir, ensureAgentCertificate, openCertificateManager } from '../../../protocols/opcua/pki.js';
import { discoverEndpoints, pickEndpoint } from '../../../protocols/opcua/session.js';
import { trustServerCertificate, firstCertificate } from '../../../protocols/opcua/pki.js';
import { tankTags } from '../../../simulators/modbus/models/tank.js';
import { DEFAULT_SIM_USER, tagNodeId, type OpcuaSimulator } from '../../../simulators/opcua/index.js';

export const PASSWORD_ENV = 'OTSENTRY_TEST_OPCUA_PASSWORD';
process.env[PASSWORD_ENV] = DEFAULT_SIM_USER.password;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `otsentry-${prefix}-`));
}

/** Tank tags by NodeId (namespace by URI), optionally only some. */
export function tankOpcuaTags(names?: string[]): { name: string; node_id: string }[] {
  return tankTags()
    .filter((t) => !names || names.includes(t.name))
    .map((t) => ({ name: t.name, node_id: tagNodeId('tank', t.name) }));
}

/** A parsed device config for a simulated server, logging in as the simulator's default user. */
export function opcuaDevice(id: string, endpointUrl: string, over: Record<string, unknown> = {}): OpcuaDeviceConfig {
  return opcuaDeviceSchema.parse({
    id,
    protocol: 'opcua',
    endpoint_url: endpointUrl,
    auth: { type: 'username', username: DEFAULT_SIM_USER.username, password: { env: PASSWORD_ENV } },
    interval_ms: 500,
    timeout_ms: 400,
    connect_timeout_ms: 5000,
    reconnect_min_ms: 100,
    reconnect_max_ms: 1000,
    tags: tankOpcuaTags(['level', 'flow_rate', 'pump_running', 'mode', 'temperature', 'level_high_sp']),
    ...over,
  });
}

/** The agent trusts the server's certificate and the server trusts the agent's: what an operator does once. */
export async function trustBothWays(sim: OpcuaSimulator, serverId: string, dataDir: string, device: OpcuaDeviceConfig): Promise<void> {
  const pki = agentPkiDir(dataDir);
  const cm = await openCertificateManager(pki);
  try {
    const agentCert = await ensureAgentCertificate(cm);
    await sim.server(serverId).trustClient(fs.readFileSync(agentCert));
    const endpoints = await discoverEndpoints(cm, device.endpoint_url, 5000);
    const chosen = pickEndpoint(endpoints, device);
    await trustServerCertificate(cm, device.id, device.endpoint_url, firstCertificate(chosen.serverCertificate!), 'trust_command');
  } finally {
    await cm.dispose();
  }
}
