// The demo agent's config: the bundled sample config (protocols/modbus/sample.yaml) with its
// device and rules repeated for every simulated PLC, pointed at the demo broker.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../../protocols/package.js';

export function sampleConfigPath(): string {
  return path.join(packageRoot(), 'protocols', 'modbus', 'sample.yaml');
}

interface PlcAddress {
  id: string;
  host: string;
  port: number;
  framing: string;
}

type Raw = Record<string, unknown> & { devices: Record<string, unknown>[]; rules?: Record<string, unknown>[] };

/** `protocolVersion` 4 for the embedded broker (aedes speaks MQTT 3.1.1 only). */
export function demoAgentConfig(o: { brokerUrl: string; dataDir: string; plcs: readonly PlcAddress[]; protocolVersion?: 4 | 5 }): Record<string, unknown> {
  const sample = parse(fs.readFileSync(sampleConfigPath(), 'utf8')) as Raw;
  const template = sample.devices[0];
  const templateId = String(template.id);
  const devices = o.plcs.map((p) => ({ ...structuredClone(template), id: p.id, transport: { type: p.framing, host: p.host, port: p.port } }));
  const rules = o.plcs.flatMap((p) =>
    (sample.rules ?? [])
      .filter((r) => r.device === templateId)
      .map((r) => ({ ...structuredClone(r), id: o.plcs.length > 1 ? `${String(r.id)}.${p.id}` : r.id, device: p.id })),
  );
  return {
    ...sample,
    agent: { ...(sample.agent as object), id: 'demo-gw', site: 'demo-site', data_dir: o.dataDir, log_level: 'warn' },
    broker: { ...(sample.broker as object), url: o.brokerUrl, ...(o.protocolVersion === undefined ? {} : { protocol_version: o.protocolVersion }) },
    devices,
    rules,
  };
}
