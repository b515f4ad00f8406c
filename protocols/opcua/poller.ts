// The read-only OPC UA poller of one server: discovery, trust check, secure channel and session,
// then per poll one batched Read of every tag (or, in subscription mode, the changes the server
// pushed), identity facts on request and a posture audit on its own cadence.
//
// connect() rejects when the server cannot be reached. A server that answers but refuses the
// session (certificate not trusted either way, login refused, policy not offered) counts as
// reachable: each poll then reports the refusal as a `security` error with the fix, retries on
// the reconnect backoff, and still carries the posture audit from discovery, so a swapped server
// certificate is reported as posture, not only as an outage. Nothing here can write or call:
// the session is used for Read, GetEndpoints and subscriptions only.
import type { ClientSession, EndpointDescription, OPCUACertificateManager, UserIdentityInfo } from 'node-opcua';
import type { Logger } from 'pino';
import type { Fact, PollResult, Poller } from '../types.js';
import type { OpcuaDeviceConfig } from './config.js';
import { asOpcuaError, OpcuaError } from './errors.js';
import { certificateFields, postureData, readClock, readDiagnostics, readIdentity, readNamespaces } from './facts.js';
import { loadOpcua, setOpcuaLogger } from './lib.js';
import { parseNodeId, resolveNodeId } from './nodeid.js';
import { describeStatus, readTags, statusError } from './read.js';
import { checkServerTrust, ensureAgentCertificate, firstCertificate, openCertificateManager } from './pki.js';
import { discoverEndpoints, openLink, pickEndpoint, withTimeout, type Link } from './session.js';
import { TagSubscription } from './subscription.js';
import { userIdentity, type UserIdentitySource } from './user.js';

export interface OpcuaPollerContext {
  logger?: Logger;
  /** the agent's PKI folder ({data_dir}/pki) */
  pkiDir: string;
  /** folder that relative paths of the device config (secret files, user certificate) start from */
  baseDir?: string;
  /** wall clock for timestamps (epoch ms) */
  now?: () => number;
}

export class OpcuaPoller implements Poller {
  readonly device: string;
  readonly requestsPerPoll: number;
  private readonly cfg: OpcuaDeviceConfig;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private readonly pkiDir: string;
  private readonly user: UserIdentitySource;
  private readonly names: string[];
  private queue: Promise<unknown> = Promise.resolve();
  private cm: OPCUACertificateManager | null = null;
  private link: Link | null = null;
  private sub: TagSubscription | null = null;
  /** set while the server answers but refuses the session */
  private refusal: { err: OpcuaError; retryAt: number } | null = null;
  private backoff: number;
  private endpoints: EndpointDescription[] = [];
  private chosen: EndpointDescription | null = null;
  /** per tag: node-opcua NodeId string, or null with the reason in nodeProblems */
  private nodes: (string | null)[] = [];
  private readonly nodeProblems = new Map<number, string>();
  private readonly reported = new Set<string>();
  private nextPostureAt = 0;
  private postureFresh = false;
  private lastRefusalLogged = '';
  /** requests sent since creation (benchmark and budget accounting) */
  requestsTotal = 0;

  constructor(cfg: OpcuaDeviceConfig, ctx: OpcuaPollerContext) {
    this.cfg = cfg;
    this.device = cfg.id;
    this.names = cfg.tags.map((t) => t.name);
    this.requestsPerPoll = cfg.mode === 'read' ? Math.ceil(cfg.tags.length / cfg.max_nodes_per_read) : 0;
    this.log = ctx.logger?.child({ endpoint: cfg.endpoint_url });
    setOpcuaLogger(ctx.logger);
    this.now = ctx.now ?? Date.now;
    this.pkiDir = ctx.pkiDir;
    this.backoff = cfg.reconnect_min_ms;
    // Static problems (a secret that cannot be read) fail here, before any I/O to the server.
    this.user = userIdentity(cfg, ctx.baseDir ?? process.cwd());
    for (const t of cfg.tags) parseNodeId(t.node_id);
  }

  isConnected(): boolean {
    return (this.link !== null && !this.link.lost) || this.refusal !== null;
  }

  connect(signal?: AbortSignal): Promise<void> {
    return this.exclusive(() => this.connectNow(signal));
  }

  poll(signal?: AbortSignal): Promise<PollResult> {
    return this.exclusive(() => this.pollNow(signal));
  }

  readFacts(kinds: ReadonlyArray<'identity' | 'diagnostics'>, signal?: AbortSignal): Promise<Fact[]> {
    return this.exclusive(() => this.factsNow(kinds, signal));
  }

  close(): Promise<void> {
    return this.exclusive(() => this.teardown());
  }

  /** One job at a time, in call order: a poll never overlaps a reconnect or a fact read. */
  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async teardown(): Promise<void> {
    const { link, sub, cm } = this;
    this.link = null;
    this.sub = null;
    this.cm = null;
    this.refusal = null;
    if (sub) await sub.stop(this.cfg.timeout_ms);
    if (link) await link.close();
    if (cm) await cm.dispose().catch(() => undefined);
  }

  private async connectNow(signal?: AbortSignal): Promise<void> {
    if (this.link && !this.link.lost && !this.sub?.terminated) return;
    await this.teardown();
    if (signal?.aborted) throw new OpcuaError('aborted', 'connect aborted');
    const cm = await openCertificateManager(this.pkiDir);
    this.cm = cm;
    try {
      const agentCert = await ensureAgentCertificate(cm);
      // Discovery: network failures reject here and the scheduler backs off.
      this.endpoints = await discoverEndpoints(cm, this.cfg.endpoint_url, this.cfg.connect_timeout_ms);
      this.requestsTotal++;
      this.postureFresh = true;
      try {
        await this.openSession(cm, agentCert);
      } catch (e) {
        const err = asOpcuaError(e, 'session', this.cfg.endpoint_url, { agentCert });
        if (err.code !== 'security') throw err;
        this.refuse(err);
      }
    } catch (e) {
      await this.teardown();
      throw asOpcuaError(e, 'discovery', this.cfg.endpoint_url);
    }
  }

  private async openSession(cm: OPCUACertificateManager, agentCert: string): Promise<void> {
    const cfg = this.cfg;
    this.chosen = pickEndpoint(this.endpoints, cfg);
    if (cfg.security_mode !== 'None') {
      const cert = this.chosen.serverCertificate;
      if (!cert || cert.length === 0) throw new OpcuaError('security', `${cfg.endpoint_url} sent no certificate with its ${cfg.security_policy} endpoint; a secure channel needs one`);
      const verdict = await checkServerTrust(cm, { device: cfg.id, endpointUrl: cfg.endpoint_url, cert, trustOnFirstUse: cfg.trust_on_first_use });
      if (verdict.pinned) this.log?.info({ thumbprint: verdict.pinned.thumbprint, subject: verdict.pinned.subject }, 'Trusted the server certificate on first use and pinned it.');
      if (!verdict.trusted) throw verdict.error!;
    }
    const user: UserIdentityInfo = await this.user.get();
    const link = await openLink({ cm, cfg, endpoint: this.chosen, user, agentCert, log: this.log, onLost: (err) => this.log?.warn({ error_code: err.code, err: err.message }, 'Connection to the server was lost.') });
    this.link = link;
    try {
      await this.resolveNodes(link.session);
      if (cfg.mode === 'subscription') {
        const sub = new TagSubscription(cfg, this.now);
        this.sub = sub;
        for (const [i, status] of await sub.start(link.session, this.nodes)) this.badNode(i, status);
      }
    } catch (e) {
      throw asOpcuaError(e, 'read', cfg.endpoint_url);
    }
    if (this.refusal) this.log?.info('The server accepts the session again.');
    this.refusal = null;
    this.lastRefusalLogged = '';
    this.backoff = cfg.reconnect_min_ms;
    this.log?.debug({ policy: cfg.security_policy, mode: cfg.security_mode }, 'Session open.');
  }

  private refuse(err: OpcuaError): void {
    this.refusal = { err, retryAt: this.now() + this.backoff };
    this.backoff = Math.min(this.backoff * 2, this.cfg.reconnect_max_ms);
    // Logged when the reason changes, not on every retry.
    // The scheduler warns about the failed cycle with this message; here it is detail for the log.
    if (this.lastRefusalLogged !== err.message) this.log?.info({ error_code: err.code }, err.message.endsWith('.') ? err.message : `${err.message}.`);
    this.lastRefusalLogged = err.message;
  }

  /** NodeIds with a namespace URI get the server's current index; unknown URIs make those tags bad. */
  private async resolveNodes(session: ClientSession): Promise<void> {
    this.nodeProblems.clear();
    const needsTable = this.cfg.tags.some((t) => t.node_id.includes('nsu='));
    const namespaces = needsTable ? await readNamespaces(session, this.cfg.timeout_ms) : [];
    this.nodes = this.cfg.tags.map((t, i) => {
      const r = resolveNodeId(parseNodeId(t.node_id), namespaces);
      if ('error' in r) {
        this.badNode(i, r.error);
        return null;
      }
      return r.nodeId;
    });
  }

  private badNode(i: number, why: string): void {
    this.nodeProblems.set(i, why);
    const key = `${i}:${why}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const t = this.cfg.tags[i];
    this.log?.warn({ tag: t.name, node_id: t.node_id, status: why }, `Tag ${t.name} (${t.node_id}) cannot be read: ${describeStatus(why)}.`);
  }

  private async pollNow(signal?: AbortSignal): Promise<PollResult> {
    const result: PollResult = { samples: [], facts: [], requests: 0, errors: [] };
    try {
      if (this.link?.lost || this.sub?.terminated) {
        const err = this.sub?.terminated ?? new OpcuaError('connection_lost', `connection to ${this.cfg.endpoint_url} was lost`);
        await this.teardown();
        return this.failed(result, err);
      }
      let reopened = false;
      if (!this.link) {
        if (this.refusal && this.now() < this.refusal.retryAt) return await this.refused(result, signal);
        try {
          await this.connectNow(signal);
        } catch (e) {
          return this.failed(result, asOpcuaError(e, 'discovery', this.cfg.endpoint_url));
        }
        if (!this.link) return await this.refused(result, signal);
        reopened = true;
      }
      const link = this.link!;
      if (this.sub) {
        this.sub.drain(this.device, this.names, result.samples);
        if (this.sub.terminated) {
          const err = this.sub.terminated;
          await this.teardown();
          return this.failed(result, err);
        }
      } else await this.readAll(link.session, result, signal);
      this.problemSamples(result);
      await this.maybePosture(result, link, signal);
      // The scheduler re-reads identity after its own reconnects; a session reopened here (after a
      // refusal) brings its identity along, so a swapped server shows at once.
      if (reopened) result.facts.push(...(await this.factsNow(['identity'], signal)));
    } catch (e) {
      // Not expected: request errors are caught below. Still, poll() never throws.
      const err = asOpcuaError(e, 'read', this.cfg.endpoint_url);
      this.log?.error({ err: err.message }, 'Poll failed unexpectedly.');
      result.errors.push(err.toPollError());
    }
    return result;
  }

  private failed(result: PollResult, err: OpcuaError): PollResult {
    const ts = this.now();
    for (const name of this.names) result.samples.push({ device: this.device, tag: name, value: null, quality: 'bad', ts, rtt_ms: 0, reason: err.code });
    result.errors.push(err.toPollError());
    return result;
  }

  /** The server refuses the session: bad samples, the refusal, and the posture audit from discovery. */
  private async refused(result: PollResult, signal?: AbortSignal): Promise<PollResult> {
    this.failed(result, this.refusal!.err);
    if (this.postureFresh || this.postureDue()) {
      if (!this.postureFresh && this.cm && !signal?.aborted) {
        try {
          this.endpoints = await discoverEndpoints(this.cm, this.cfg.endpoint_url, this.cfg.connect_timeout_ms);
        } catch {
          return result;
        }
      }
      result.facts.push(this.postureFact(null, 'refused'));
    }
    return result;
  }

  private async readAll(session: ClientSession, result: PollResult, signal?: AbortSignal): Promise<void> {
    const plan = { device: this.device, names: this.names, nodeIds: this.nodes, tags: this.cfg.tags, maxNodesPerRead: this.cfg.max_nodes_per_read, timeoutMs: this.cfg.timeout_ms, endpointUrl: this.cfg.endpoint_url };
    this.requestsTotal += await readTags(session, plan, this.now, result, (i, status) => {
      if (!this.reported.has(`${i}:${status}`)) this.badNode(i, status);
    }, signal);
  }

  /** Tags whose node could not be resolved or monitored: one bad sample each, every poll. */
  private problemSamples(result: PollResult): void {
    if (this.nodeProblems.size === 0) return;
    const ts = this.now();
    const byReason = new Map<string, string[]>();
    for (const [i, why] of this.nodeProblems) {
      if (this.nodes[i] !== null && !this.sub) continue; // read mode reports node statuses itself
      if (this.sub?.hasValue(i)) continue;
      result.samples.push({ device: this.device, tag: this.names[i], value: null, quality: 'bad', ts, rtt_ms: 0, reason: why });
      const list = byReason.get(why) ?? [];
      list.push(this.names[i]);
      byReason.set(why, list);
    }
    for (const [why, tags] of byReason) result.errors.push(statusError(why, tags, this.cfg.tags, this.names));
  }

  private postureDue(): boolean {
    return this.now() >= this.nextPostureAt;
  }

  private async maybePosture(result: PollResult, link: Link, signal?: AbortSignal): Promise<void> {
    if (!this.postureFresh && !this.postureDue()) return;
    if (signal?.aborted) return;
    try {
      if (!this.postureFresh) this.endpoints = await withTimeout(link.client.getEndpoints(), this.cfg.timeout_ms, 'GetEndpoints');
      const clock = await readClock(link.session, this.now, this.cfg.timeout_ms);
      this.requestsTotal += this.postureFresh ? 1 : 2;
      result.facts.push(this.postureFact(clock, 'open'));
    } catch (e) {
      this.log?.debug({ err: asOpcuaError(e, 'read', this.cfg.endpoint_url).message }, 'Posture audit failed; trying again next poll.');
    }
  }

  private postureFact(clock: Awaited<ReturnType<typeof readClock>> | null, session: 'open' | 'refused'): Fact {
    this.postureFresh = false;
    const every = this.cfg.posture_interval_ms;
    this.nextPostureAt = every > 0 ? this.now() + every : Number.POSITIVE_INFINITY;
    const data = postureData({
      endpointUrl: this.cfg.endpoint_url,
      endpoints: this.endpoints,
      clock,
      session,
      refusal: session === 'refused' ? this.refusal?.err.message : undefined,
      policy: this.cfg.security_policy,
      mode: this.cfg.security_mode,
    });
    return { device: this.device, kind: 'posture', ts: this.now(), data };
  }

  private async factsNow(kinds: ReadonlyArray<'identity' | 'diagnostics'>, signal?: AbortSignal): Promise<Fact[]> {
    const facts: Fact[] = [];
    const link = this.link;
    if (!link || link.lost || signal?.aborted) return facts;
    const cert = this.chosen?.serverCertificate ? firstCertificate(this.chosen.serverCertificate) : null;
    if (kinds.includes('identity')) {
      try {
        const data = await readIdentity(link.session, cert, this.chosen?.server?.applicationUri ?? null, this.cfg.timeout_ms);
        this.requestsTotal++;
        facts.push({ device: this.device, kind: 'identity', ts: this.now(), data });
      } catch (e) {
        this.log?.debug({ err: asOpcuaError(e, 'read', this.cfg.endpoint_url).message }, 'BuildInfo read failed.');
      }
    }
    if (kinds.includes('diagnostics') && this.cfg.diagnostics_interval_ms > 0) {
      try {
        const data = await readDiagnostics(link.session, this.cfg.timeout_ms);
        this.requestsTotal++;
        if (data) facts.push({ device: this.device, kind: 'diagnostics', ts: this.now(), data: { ...data, agent_requests_total: this.requestsTotal } });
      } catch (e) {
        this.log?.debug({ err: asOpcuaError(e, 'read', this.cfg.endpoint_url).message }, 'ServerDiagnosticsSummary read failed.');
      }
    }
    return facts;
  }

  /** Notifications received in subscription mode (benchmark). */
  get notifications(): number {
    return this.sub?.notifications ?? 0;
  }

  /** The server certificate fields of the chosen endpoint (for `otsentry trust` and tests). */
  serverCertificate(): Record<string, string | null> {
    return certificateFields(this.chosen?.serverCertificate ?? null);
  }
}

/** Factory for the protocol registry. */
export function createOpcuaPoller(device: OpcuaDeviceConfig, ctx: OpcuaPollerContext): Poller {
  // Warm the library up without waiting: the first connect then does not pay the whole load.
  void loadOpcua().catch(() => undefined);
  return new OpcuaPoller(device, ctx);
}
