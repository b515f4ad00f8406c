// `otsentry trust`: the first-run trust flow. Shows each OPC UA server's certificate (fetched by
// discovery, which needs no trust), trusts it only when the operator confirms its thumbprint (or
// says --yes), pins it per device, and shows the agent's own certificate, which each server must
// trust in turn.
import fs from 'node:fs';
import path from 'node:path';
import type { OpcuaDeviceConfig } from './config.js';
import { OpcuaError } from './errors.js';
import {
  agentCertificateFile,
  certificateInfo,
  ensureAgentCertificate,
  firstCertificate,
  openCertificateManager,
  readPin,
  trustServerCertificate,
  type CertificateInfo,
} from './pki.js';
import { discoverEndpoints, pickEndpoint } from './session.js';
import { OperationalError } from '../errors.js';

export interface TrustOptions {
  devices: OpcuaDeviceConfig[];
  pkiDir: string;
  /** trust a server only when its thumbprint is this one (hex; colons and case ignored) */
  thumbprint?: string;
  /** trust whatever each server presents (for scripted first installs on a trusted network) */
  yes?: boolean;
  out: (line: string) => void;
}

export interface TrustReport {
  /** devices whose server certificate is trusted after this run */
  trusted: string[];
  /** devices still untrusted (not confirmed, or thumbprint mismatch) */
  untrusted: string[];
  /** devices that could not be reached or answered wrongly */
  failed: string[];
  agentCertificate: string;
}

const normalize = (t: string): string => t.replace(/[^0-9a-f]/gi, '').toLowerCase();

function describe(c: CertificateInfo): string {
  return `${c.subject}; issuer ${c.self_signed ? '(self-signed)' : c.issuer}; valid ${c.not_before.slice(0, 10)} to ${c.not_after.slice(0, 10)}`;
}

export async function runTrust(o: TrustOptions): Promise<TrustReport> {
  const cm = await openCertificateManager(o.pkiDir);
  const report: TrustReport = { trusted: [], untrusted: [], failed: [], agentCertificate: '' };
  try {
    const agentFile = await ensureAgentCertificate(cm);
    report.agentCertificate = agentFile;
    for (const dev of o.devices) {
      o.out('');
      o.out(`${dev.id}: ${dev.endpoint_url}`);
      let cert: Buffer;
      try {
        const endpoints = await discoverEndpoints(cm, dev.endpoint_url, dev.connect_timeout_ms);
        // The login does not matter for trust: the endpoint the device uses carries the certificate.
        const chosen = dev.security_mode === 'None' ? endpoints[0] : pickEndpoint(endpoints, dev, false);
        if (!chosen?.serverCertificate || chosen.serverCertificate.length === 0) throw new OpcuaError('security', `${dev.endpoint_url} presents no certificate`);
        cert = firstCertificate(chosen.serverCertificate);
      } catch (e) {
        o.out(`  cannot get its certificate: ${(e as Error).message}`);
        report.failed.push(dev.id);
        continue;
      }
      const info = certificateInfo(cert);
      if (!info) {
        o.out('  its certificate cannot be parsed; it cannot be trusted');
        report.failed.push(dev.id);
        continue;
      }
      o.out(`  certificate ${describe(info)}`);
      o.out(`  thumbprint  ${info.thumbprint}`);
      const pin = readPin(o.pkiDir, dev.id);
      const trusted = (await cm.isCertificateTrusted(cert)) === 'Good';
      if (trusted && (!pin || pin.thumbprint === info.thumbprint)) {
        o.out('  already trusted');
        report.trusted.push(dev.id);
        continue;
      }
      if (pin && pin.thumbprint !== info.thumbprint) o.out(`  CHANGED: the device was pinned to ${pin.thumbprint} (${pin.subject}) on ${pin.pinned_at.slice(0, 10)}`);
      const confirmed = o.yes === true || (o.thumbprint !== undefined && normalize(o.thumbprint) === info.thumbprint);
      if (!confirmed) {
        if (o.thumbprint !== undefined) o.out(`  NOT trusted: --thumbprint ${o.thumbprint} does not match`);
        o.out('  compare the thumbprint with the one the server shows (its console or certificate file); if they match, run:');
        o.out(`    otsentry trust --config FILE --device ${dev.id} --thumbprint ${info.thumbprint}`);
        report.untrusted.push(dev.id);
        continue;
      }
      await trustServerCertificate(cm, dev.id, dev.endpoint_url, cert, 'trust_command');
      o.out(`  trusted and pinned (${o.pkiDir}/trusted/certs); a running agent uses it at its next connection attempt`);
      report.trusted.push(dev.id);
    }
    const own = certificateInfo(pemToDer(fs.readFileSync(agentFile)));
    o.out('');
    o.out(`agent certificate: ${agentCertificateFile(o.pkiDir)}`);
    if (own) o.out(`  ${describe(own)}; thumbprint ${own.thumbprint}`);
    o.out("  each server must trust it: copy this file into the server's trusted certificates");
    o.out('  (bundled simulator: otsentry simulate opcua --trust-client <that file>)');
    return report;
  } finally {
    await cm.dispose().catch(() => undefined);
  }
}

function pemToDer(pem: Buffer): Buffer {
  const text = pem.toString('latin1');
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text);
  return m ? Buffer.from(m[1].replace(/\s+/g, ''), 'base64') : pem;
}

export class TrustError extends OperationalError {
  constructor(message: string) {
    super('trust', message, 'config');
  }
}

/**
 * `otsentry trust` on a loaded config: the OPC UA devices (or the one named), the agent's PKI in
 * {data_dir}/pki. Throws TrustError (exit 1) when a certificate is still untrusted or a server failed.
 */
export async function trustFromConfig(
  config: { devices: readonly { id: string; protocol: string }[] },
  dataDir: string,
  o: { device?: string; thumbprint?: string; yes?: boolean; out: (line: string) => void },
): Promise<TrustReport> {
  const all = config.devices.filter((d): d is OpcuaDeviceConfig & { protocol: 'opcua' } => d.protocol === 'opcua');
  if (o.device !== undefined && !config.devices.some((d) => d.id === o.device)) {
    throw new TrustError(`--device ${o.device}: no such device; OPC UA devices: ${all.map((d) => d.id).join(', ') || 'none'}`);
  }
  const devices = o.device === undefined ? all : all.filter((d) => d.id === o.device);
  if (devices.length === 0) throw new TrustError(o.device ? `--device ${o.device} is not an OPC UA device; trust applies to OPC UA devices only` : 'the config has no OPC UA device; nothing to trust');
  if (o.thumbprint !== undefined && devices.length > 1) throw new TrustError('--thumbprint confirms one certificate: name its device with --device');
  const pkiDir = path.join(dataDir, 'pki');
  o.out(`agent PKI: ${pkiDir}`);
  const report = await runTrust({ devices, pkiDir, thumbprint: o.thumbprint, yes: o.yes, out: o.out });
  const open = [...report.untrusted, ...report.failed];
  if (open.length > 0) {
    throw new TrustError(`${open.length} of ${devices.length} server certificate${devices.length === 1 ? '' : 's'} not trusted (${open.join(', ')}); see above`);
  }
  return report;
}
