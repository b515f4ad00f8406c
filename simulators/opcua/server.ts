// One simulated OPC UA server: the Modbus simulator's PLC (process model, register image, the hooks
// its attack scenarios use; its Modbus port is never opened) exposed as OPC UA variables by a
// node-opcua server with secure endpoints, its own PKI, user logins, and the hooks of the OPC UA
// scenarios: go offline, expose an endpoint, allow anonymous logins, swap the certificate, skew
// the clock, restart.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ICertificateKeyPairProvider, OPCUACertificateManager, OPCUAServer } from 'node-opcua';
import type { Logger } from '../../protocols/log.js';
import { loadOpcua, setOpcuaLogger, type NodeOpcua } from '../../protocols/opcua/lib.js';
import { certificateInfo, type CertificateInfo } from '../../protocols/opcua/pki.js';
import { plcSchema } from '../modbus/config.js';
import { Plc } from '../modbus/plc.js';
import { addProcessVariables, namespaceUri, syncBuildInfo } from './address-space.js';
import type { SimMode, SimPolicy, SimServerConfig } from './config.js';

export interface SimServerInfo {
  id: string;
  host: string;
  port: number;
  endpoint_url: string;
  namespace_uri: string;
  model: string;
  pki_dir: string;
  /** thumbprint, subject and validity of the certificate it presents now */
  certificate: CertificateInfo | null;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export class SimServer {
  readonly id: string;
  readonly plc: Plc;
  private ua!: NodeOpcua;
  private server: OPCUAServer | null = null;
  private cm: OPCUACertificateManager | null = null;
  private userCm: OPCUACertificateManager | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private port: number;
  private readonly pkiDir: string;
  private readonly tempPki: boolean;
  private offline = false;
  private appliedBuildInfo = '';
  private refreshVariables: (() => void) | null = null;
  private swaps = 0;

  constructor(
    readonly config: SimServerConfig,
    readonly logger: Logger,
  ) {
    this.id = config.id;
    this.port = config.port;
    // The process model comes from the Modbus simulator, configured the same way.
    this.plc = new Plc(plcSchema.parse({ id: config.id, model: config.model, identity: config.identity, tick_ms: config.tick_ms, seed: config.seed }), logger);
    this.tempPki = config.pki_dir === undefined;
    this.pkiDir = config.pki_dir ? path.resolve(config.pki_dir) : fs.mkdtempSync(path.join(os.tmpdir(), `otsentry-opcua-sim-${config.id}-`));
  }

  get endpointUrl(): string {
    return `opc.tcp://${this.config.host}:${this.port}`;
  }

  info(): SimServerInfo {
    const cert = this.server ? this.currentCertificate() : null;
    return {
      id: this.id,
      host: this.config.host,
      port: this.port,
      endpoint_url: this.endpointUrl,
      namespace_uri: namespaceUri(this.plc.model.type),
      model: this.plc.model.type,
      pki_dir: this.pkiDir,
      certificate: cert ? certificateInfo(cert) : null,
    };
  }

  /** The DER certificate the endpoints present now. */
  currentCertificate(): Buffer | null {
    return this.server?.endpoints[0]?.getCertificate() ?? null;
  }

  async start(): Promise<void> {
    this.ua = await loadOpcua();
    setOpcuaLogger(this.logger);
    if (this.port === 0) this.port = await freePort(this.config.host);
    await this.startServer();
    this.ticker ??= setInterval(() => this.step(), this.config.tick_ms);
  }

  private step(): void {
    this.plc.step(this.config.tick_ms);
    if (!this.server) return;
    this.refreshVariables?.();
    this.appliedBuildInfo = syncBuildInfo(this.server, this.plc.identity, this.appliedBuildInfo);
  }

  private async startServer(): Promise<void> {
    const ua = this.ua;
    const c = this.config;
    this.cm = new ua.OPCUACertificateManager({ rootFolder: path.join(this.pkiDir, 'server'), automaticallyAcceptUnknownCertificate: c.accept_unknown_clients, disableFileWatchers: true });
    await this.cm.initialize();
    this.userCm = new ua.OPCUACertificateManager({ rootFolder: path.join(this.pkiDir, 'users'), automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true });
    await this.userCm.initialize();
    for (const f of c.trusted_clients) await this.cm.trustCertificate(readCertificate(f));
    for (const f of c.trusted_users) await this.userCm.trustCertificate(readCertificate(f));
    const users = new Map(c.users.map((u) => [u.username, u.password]));
    const server = new ua.OPCUAServer({
      port: this.port,
      hostname: c.host,
      serverCertificateManager: this.cm,
      userCertificateManager: this.userCm,
      securityPolicies: c.security_policies.map((p) => ua.SecurityPolicy[p]),
      securityModes: c.security_modes.map((m) => ua.MessageSecurityMode[m]),
      allowAnonymous: c.allow_anonymous,
      userManager: { isValidUser: (user: string, password: string) => users.get(user) === password },
      maxConnectionsPerEndpoint: c.max_sessions,
      serverCapabilities: { maxSessions: c.max_sessions } as never,
      serverInfo: {
        applicationUri: `urn:otsentry:sim:${c.id}`,
        productUri: `urn:otsentry:sim:${this.plc.identity.product_code}`,
        applicationName: { text: `otsentry OPC UA simulator ${c.id}` },
      },
      buildInfo: { buildDate: new Date('2024-06-01T00:00:00Z') },
    });
    await server.initialize();
    this.refreshVariables = addProcessVariables(ua, server, this.plc, c.sampling_ms).refresh;
    this.appliedBuildInfo = syncBuildInfo(server, this.plc.identity, '');
    await server.start();
    this.server = server;
    this.logger.debug({ server: this.id, endpoint: this.endpointUrl }, 'OPC UA server listening.');
  }

  private async stopServer(): Promise<void> {
    const { server, cm, userCm } = this;
    this.server = null;
    this.refreshVariables = null;
    this.cm = null;
    this.userCm = null;
    if (server) await server.shutdown(0).catch(() => undefined);
    await cm?.dispose().catch(() => undefined);
    await userCm?.dispose().catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    await this.plc.stop();
    await this.stopServer();
    if (this.tempPki) fs.rmSync(this.pkiDir, { recursive: true, force: true });
  }

  /**
   * Restart the OPC UA server on the same port, as a process restart would: connections drop at once, sessions and
   * subscriptions are gone. `whileDown` (if given) runs while the port is closed, e.g. to wait until a client saw the outage.
   */
  async restart(whileDown?: () => Promise<void>): Promise<void> {
    for (const ep of this.server?.endpoints ?? []) ep.abruptlyInterruptChannels();
    await this.stopServer();
    await whileDown?.();
    this.offline = false;
    this.swaps = 0;
    await this.startServer();
  }

  /** Trust a client's application certificate (DER or PEM). */
  async trustClient(cert: Buffer | string): Promise<void> {
    await this.live().cm!.trustCertificate(toDer(cert));
  }

  private live(): this {
    if (!this.server) throw new Error(`OPC UA server ${this.id} is not running`);
    return this;
  }

  /** Trust a user certificate for X.509 user logins (DER or PEM). */
  async trustUser(cert: Buffer | string): Promise<void> {
    await this.live().userCm!.trustCertificate(toDer(cert));
  }

  /** Call fn with the type name of every service request the server receives (WriteRequest, ...); returns the undo. */
  onRequest(fn: (type: string) => void): () => void {
    const server = this.live().server!;
    const listener = (request: { constructor: { name: string } }) => fn(request.constructor.name);
    server.on('request', listener as never);
    return () => void server.off('request', listener as never);
  }

  /** Offline: every connection dropped and the port closed. Online: listening again. */
  async setOffline(offline: boolean): Promise<void> {
    if (offline === this.offline) return;
    const ep = this.live().server!.endpoints[0];
    this.offline = offline;
    if (offline) {
      await new Promise<void>((resolve) => ep.suspendConnection(() => resolve()));
      ep.abruptlyInterruptChannels();
    } else {
      await new Promise<void>((resolve) => ep.restoreConnection(() => resolve()));
    }
    this.logger.info({ server: this.id, offline }, offline ? 'OPC UA server went offline.' : 'OPC UA server is back online.');
  }

  /** Drop every client connection (the clients reconnect). */
  dropConnections(): void {
    for (const ep of this.live().server!.endpoints) ep.abruptlyInterruptChannels();
  }

  /** Offer an endpoint with this policy and mode (None/None: the unsecured one); returns the undo. */
  exposeEndpoint(policy: SimPolicy, mode: SimMode): () => void {
    const ua = this.ua;
    const ep = this.live().server!.endpoints[0];
    const uri = ua.SecurityPolicy[policy];
    const wantMode = ua.MessageSecurityMode[mode];
    const find = () => ep.endpointDescriptions().filter((e) => e.securityPolicyUri === uri && e.securityMode === wantMode) as { restricted?: boolean }[];
    if (find().length === 0) {
      const tokens = ep.endpointDescriptions()[0]?.userIdentityTokens?.map((t) => t.tokenType) ?? [ua.UserTokenType.UserName];
      ep.addEndpointDescription(wantMode, uri, { hostname: this.config.host, securityPolicies: [uri], userTokenTypes: [...new Set(tokens)], restricted: true });
    }
    // Found or just added as restricted (hidden): make it visible; the undo hides it again.
    const targets = find().filter((e) => e.restricted === true);
    for (const e of targets) e.restricted = false;
    return () => {
      for (const e of targets) e.restricted = true;
    };
  }

  /** Accept anonymous logins on every endpoint; returns the undo. */
  allowAnonymous(): () => void {
    const ua = this.ua;
    const added: { list: unknown[]; token: unknown }[] = [];
    for (const e of this.live().server!.endpoints[0].endpointDescriptions()) {
      const list = (e.userIdentityTokens ??= []);
      if (list.some((t) => t.tokenType === ua.UserTokenType.Anonymous)) continue;
      const token = new ua.UserTokenPolicy({ policyId: 'anonymous', tokenType: ua.UserTokenType.Anonymous });
      list.push(token);
      added.push({ list, token });
    }
    return () => {
      for (const a of added) {
        const i = a.list.indexOf(a.token);
        if (i >= 0) a.list.splice(i, 1);
      }
    };
  }

  /**
   * Present another certificate (a new key pair, self-signed, valid `validityDays` from
   * `startOffsetDays` days ago); returns the undo.
   */
  async swapCertificate(o: { validityDays: number; startOffsetDays: number; subject: string }): Promise<() => void> {
    const ua = this.ua;
    const server = this.live().server!;
    const dir = path.join(this.pkiDir, `swap-${++this.swaps}-${Date.now()}`);
    const cm = new ua.OPCUACertificateManager({ rootFolder: dir, disableFileWatchers: true });
    await cm.initialize();
    const certFile = path.join(dir, 'own', 'certs', 'swapped.pem');
    await cm.createSelfSignedCertificate({
      applicationUri: server.serverInfo.applicationUri ?? `urn:otsentry:sim:${this.id}`,
      subject: o.subject,
      dns: [this.config.host],
      startDate: new Date(Date.now() - o.startOffsetDays * 86_400_000),
      validity: o.validityDays,
      outputFile: certFile,
    });
    await cm.dispose();
    const provider = new ua.DiskCertificateKeyPairProvider(certFile, path.join(dir, 'own', 'private', 'private_key.pem'));
    const before = server.getProvider();
    const endpoints = server.endpoints.map((ep) => ({ ep, before: ep.getCertificateProvider() }));
    server.setProvider(provider as ICertificateKeyPairProvider);
    for (const { ep } of endpoints) ep.setCertificateProvider(provider);
    return () => {
      if (this.server !== server) return; // restarted since: the server has its own certificate again
      server.setProvider(before);
      for (const e of endpoints) e.ep.setCertificateProvider(e.before);
    };
  }

  /** ServerStatus.CurrentTime runs offsetMs ahead (behind when negative); returns the undo. */
  skewClock(offsetMs: number): () => void {
    const node = this.live().server!.engine.addressSpace!.findNode('i=2256') as unknown as { $extensionObject: Record<string | symbol, unknown> } | null;
    if (!node) throw new Error('this server has no ServerStatus node');
    const before = node.$extensionObject;
    node.$extensionObject = new Proxy(before, {
      get: (target, prop) => (prop === 'currentTime' ? new Date(Date.now() + offsetMs) : Reflect.get(target, prop)),
    });
    return () => {
      node.$extensionObject = before;
    };
  }
}

function toDer(cert: Buffer | string): Buffer {
  return new X509Certificate(cert).raw;
}

function readCertificate(file: string): Buffer {
  try {
    return toDer(fs.readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code ? `cannot read certificate ${file} (${code}); check the path` : `${file} is not an X.509 certificate (PEM or DER)`);
  }
}
