// The agent side of the OPC UA simulator, for the demo, the golden cases and the benchmark: an
// agent config with the sample's device and rules repeated for every simulated server, and the
// one-time pairing an operator would do (each server trusts the agent's certificate, the agent
// trusts and pins each server's certificate).
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../../protocols/package.js';
import { agentPkiDir, ensureAgentCertificate, openCertificateManager, trustServerCertificate } from '../../protocols/opcua/pki.js';
import type { OpcuaSimulator } from './index.js';

export function opcuaSampleConfigPath(): string {
  return path.join(packageRoot(), 'protocols', 'opcua', 'sample.yaml');
}

type Raw = Record<string, unknown> & { devices: Record<string, unknown>[]; rules?: Record<string, unknown>[] };

export interface OpcuaAgentConfigOptions {
  brokerUrl: string;
  dataDir: string;
  servers: readonly { id: string; endpoint_url: string }[];
  /** file holding the login password (the simulator's default user), instead of the sample's env variable */
  passwordFile?: string;
  /** fields merged into every device (interval_ms, mode, ...) */
  device?: Record<string, unknown>;
  /** rules of the sample to change or drop, by id: a partial rule, or null to drop it */
  rules?: Record<string, Record<string, unknown> | null>;
  /** rule ids get a `.{device}` suffix (several servers); default when there is more than one */
  suffixRuleIds?: boolean;
}

/** The sample config (protocols/opcua/sample.yaml) pointed at these servers and this broker. */
export function opcuaAgentConfig(o: OpcuaAgentConfigOptions): Record<string, unknown> {
  const sample = parse(fs.readFileSync(opcuaSampleConfigPath(), 'utf8')) as Raw;
  const template = sample.devices[0];
  const templateId = String(template.id);
  const suffix = o.suffixRuleIds ?? o.servers.length > 1;
  const devices = o.servers.map((s) => {
    const d: Record<string, unknown> = { ...structuredClone(template), id: s.id, endpoint_url: s.endpoint_url, ...o.device };
    if (o.passwordFile) d.auth = { ...(d.auth as object), password: { file: o.passwordFile } };
    return d;
  });
  const rules = o.servers.flatMap((s) =>
    (sample.rules ?? [])
      .filter((r) => r.device === templateId && o.rules?.[String(r.id)] !== null)
      .map((r) => ({ ...structuredClone(r), ...o.rules?.[String(r.id)], id: suffix ? `${String(r.id)}.${s.id}` : r.id, device: s.id })),
  );
  return {
    ...sample,
    agent: { ...(sample.agent as object), data_dir: o.dataDir },
    broker: { ...(sample.broker as object), url: o.brokerUrl },
    devices,
    rules,
  };
}

/** What pairing needs of a simulator, in process or in a child process. */
export interface PairTarget {
  servers: readonly { id: string; endpoint_url: string }[];
  trustClient(server: string, pem: Buffer): Promise<void>;
  /** the server's certificate (DER) */
  certificate(server: string): Buffer | null;
}

/** The pairing view of an in-process simulator. */
export function pairTarget(sim: OpcuaSimulator): PairTarget {
  return {
    servers: sim.servers,
    trustClient: (id, pem) => sim.server(id).trustClient(pem),
    certificate: (id) => sim.server(id).currentCertificate(),
  };
}

/** Each server trusts the agent's certificate ({dataDir}/pki), and the agent trusts and pins each server's. */
export async function pairAgentWithSimulator(sim: OpcuaSimulator | PairTarget, dataDir: string, ids?: readonly string[]): Promise<string> {
  const target = 'certificate' in sim ? sim : pairTarget(sim);
  const cm = await openCertificateManager(agentPkiDir(dataDir));
  try {
    const agentCert = await ensureAgentCertificate(cm);
    const pem = fs.readFileSync(agentCert);
    for (const s of target.servers) {
      if (ids && !ids.includes(s.id)) continue;
      await target.trustClient(s.id, pem);
      const cert = target.certificate(s.id);
      if (!cert) throw new Error(`OPC UA simulator ${s.id} has no certificate yet`);
      await trustServerCertificate(cm, s.id, s.endpoint_url, cert, 'trust_command');
    }
    return agentCert;
  } finally {
    await cm.dispose().catch(() => undefined);
  }
}
