// The agent's OPC UA PKI in {data_dir}/pki (never the user's home): its application certificate,
// trusted and rejected server certificates, and per-device pins. Unknown server certificates are
// never accepted automatically; trust comes from `otsentry trust` or, when configured, from the
// first connection (trust on first use), after which a different certificate is refused.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { OPCUACertificateManager } from 'node-opcua';
import { OpcuaError } from './errors.js';
import { loadOpcua } from './lib.js';

/** Application name of the agent: the subject and application URI of its certificate derive from it. */
export const AGENT_APPLICATION_NAME = 'otsentry';

export function agentPkiDir(dataDir: string): string {
  return path.join(dataDir, 'pki');
}

export function agentCertificateFile(pkiDir: string): string {
  return path.join(pkiDir, 'own', 'certs', 'client_certificate.pem');
}

export interface CertificateInfo {
  /** SHA-1 of the DER, lowercase hex without separators (the OPC UA thumbprint) */
  thumbprint: string;
  subject: string;
  issuer: string;
  /** ISO 8601 */
  not_before: string;
  not_after: string;
  self_signed: boolean;
}

/** The first certificate of a DER chain (servers may send their issuers after it). */
export function firstCertificate(chain: Buffer): Buffer {
  // DER SEQUENCE: 0x30, then a short length or 0x8N followed by N length bytes.
  if (chain.length < 2 || chain[0] !== 0x30) return chain;
  const b = chain[1];
  if (b < 0x80) return chain.subarray(0, 2 + b);
  const n = b & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + chain[2 + i];
  return chain.subarray(0, Math.min(chain.length, 2 + n + len));
}

/** Thumbprint, subject and validity of a DER certificate; null when it cannot be parsed. */
export function certificateInfo(der: Buffer): CertificateInfo | null {
  try {
    const x = new X509Certificate(firstCertificate(der));
    const oneLine = (dn: string) => dn.split('\n').filter(Boolean).join(', ');
    return {
      thumbprint: x.fingerprint.replace(/:/g, '').toLowerCase(),
      subject: oneLine(x.subject),
      issuer: oneLine(x.issuer),
      not_before: new Date(x.validFrom).toISOString(),
      not_after: new Date(x.validTo).toISOString(),
      self_signed: x.subject === x.issuer,
    };
  } catch {
    return null;
  }
}

/** A certificate manager on the agent's PKI folder, automatic acceptance off, no file watchers. */
export async function openCertificateManager(pkiDir: string): Promise<OPCUACertificateManager> {
  const ua = await loadOpcua();
  try {
    fs.mkdirSync(pkiDir, { recursive: true });
  } catch (e) {
    throw new OpcuaError('unknown', `cannot create the OPC UA PKI folder ${pkiDir} (${(e as NodeJS.ErrnoException).code}); set agent.data_dir to a writable folder`);
  }
  // A fresh manager per connection attempt re-reads trusted/ and rejected/, so `otsentry trust`
  // run beside a running agent takes effect at the next attempt.
  const cm = new ua.OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true, name: 'otsentry' });
  await cm.initialize();
  return cm;
}

/** Create the agent's application certificate if missing; returns its file. */
export async function ensureAgentCertificate(cm: OPCUACertificateManager): Promise<string> {
  const ua = await loadOpcua();
  const file = agentCertificateFile(cm.rootDir);
  if (fs.existsSync(file) && fs.statSync(file).size > 0) return file;
  const hostname = ua.getHostname();
  await cm.createSelfSignedCertificate({
    applicationUri: ua.makeApplicationUrn(hostname, AGENT_APPLICATION_NAME),
    dns: [hostname],
    subject: ua.makeSubject(AGENT_APPLICATION_NAME, hostname),
    startDate: new Date(),
    validity: 365 * 10,
    outputFile: file,
  });
  return file;
}

/** The agent certificate as DER, or null when it does not exist yet. */
export function readAgentCertificate(pkiDir: string): Buffer | null {
  try {
    return new X509Certificate(fs.readFileSync(agentCertificateFile(pkiDir))).raw;
  } catch {
    return null;
  }
}

export interface Pin {
  device: string;
  endpoint_url: string;
  thumbprint: string;
  subject: string;
  not_after: string;
  pinned_at: string;
  how: 'trust_command' | 'first_use';
}

function pinFile(pkiDir: string, device: string): string {
  return path.join(pkiDir, 'pins', `${device}.json`);
}

export function readPin(pkiDir: string, device: string): Pin | null {
  try {
    return JSON.parse(fs.readFileSync(pinFile(pkiDir, device), 'utf8')) as Pin;
  } catch {
    return null;
  }
}

/** Trust a server certificate for a device: into trusted/, and pinned for the device. */
export async function trustServerCertificate(cm: OPCUACertificateManager, device: string, endpointUrl: string, cert: Buffer, how: Pin['how']): Promise<Pin> {
  const der = firstCertificate(cert);
  const info = certificateInfo(der);
  if (!info) throw new OpcuaError('security', `the certificate of ${endpointUrl} cannot be parsed; it cannot be trusted`);
  await cm.trustCertificate(der);
  const pin: Pin = { device, endpoint_url: endpointUrl, thumbprint: info.thumbprint, subject: info.subject, not_after: info.not_after, pinned_at: new Date().toISOString(), how };
  const file = pinFile(cm.rootDir, device);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(pin, null, 2) + '\n');
  return pin;
}

export interface TrustVerdict {
  trusted: boolean;
  /** set when this call trusted it (trust on first use) */
  pinned?: Pin;
  error?: OpcuaError;
}

/**
 * May the agent open a secure channel to this server certificate? Trusted when it is in trusted/;
 * with trust on first use, also when the device has no pin yet (it is then trusted and pinned).
 * Otherwise it goes to rejected/ and the error says how to trust it.
 */
export async function checkServerTrust(
  cm: OPCUACertificateManager,
  o: { device: string; endpointUrl: string; cert: Buffer; trustOnFirstUse: boolean },
): Promise<TrustVerdict> {
  const der = firstCertificate(o.cert);
  const info = certificateInfo(der);
  if (!info) return { trusted: false, error: new OpcuaError('security', `the server certificate of ${o.endpointUrl} cannot be parsed; the server sent something that is not an X.509 certificate`) };
  const pin = readPin(cm.rootDir, o.device);
  const status = await cm.isCertificateTrusted(der);
  if (status === 'Good' && (!pin || pin.thumbprint === info.thumbprint || pin.how === 'trust_command')) return { trusted: true };
  if (status === 'Good' && pin && pin.thumbprint !== info.thumbprint) {
    // Trusted for another device, but this device was pinned to another certificate.
    return { trusted: false, error: changedError(o, pin, info) };
  }
  if (status === 'BadCertificateInvalid') {
    return { trusted: false, error: new OpcuaError('security', `the server certificate of ${o.endpointUrl} (${info.subject}) is invalid; the server must present a valid X.509 certificate`) };
  }
  if (o.trustOnFirstUse && !pin) {
    return { trusted: true, pinned: await trustServerCertificate(cm, o.device, o.endpointUrl, der, 'first_use') };
  }
  await cm.rejectCertificate(der).catch(() => undefined);
  if (pin && pin.thumbprint !== info.thumbprint) return { trusted: false, error: changedError(o, pin, info) };
  return {
    trusted: false,
    error: new OpcuaError(
      'security',
      `the server certificate of ${o.endpointUrl} is not trusted yet (${info.subject}, thumbprint ${info.thumbprint}, valid until ${info.not_after.slice(0, 10)}); ` +
        `if that is your server, run \`otsentry trust --config FILE --device ${o.device}\`, compare the thumbprint, and confirm it`,
    ),
  };
}

function changedError(o: { device: string; endpointUrl: string }, pin: Pin, info: CertificateInfo): OpcuaError {
  return new OpcuaError(
    'security',
    `the server certificate of ${o.endpointUrl} changed: pinned ${pin.thumbprint} (${pin.subject}), now ${info.thumbprint} (${info.subject}, valid until ${info.not_after.slice(0, 10)}); ` +
      `the agent refuses it. If the change was planned, run \`otsentry trust --config FILE --device ${o.device}\` and confirm the new thumbprint`,
  );
}
