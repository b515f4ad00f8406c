// What central knows of each agent, cached over the store: the pinned key (pinned on first sight,
// changed only by `otsentry central keys accept`), the key announced instead when it differs,
// the retained status and assets. Status and assets payloads are judged here: a key change, a
// Last Will (offline) and an agent outside verify.allow_agents are findings.
import type { KeyObject } from 'node:crypto';
import { keyIdOf, parsePublicKey } from '../signing/keys.js';
import type { VerifyConfig } from './config/schema.js';
import type { CentralFeed } from './feed.js';
import { clip, type Findings } from './findings.js';
import type { AgentKey, AgentRecord, CentralStore } from './store/types.js';

export interface AgentState {
  rec: AgentRecord;
  /** the pinned key as a key object, for signature checks */
  key?: KeyObject;
  /** the wall-clock ms the latest status payload (any state) arrived */
  status_seen_ms?: number;
}

/** `site/agent` patterns of verify.allow_agents (a `*` matches a whole level) as a test. */
export function allowTest(patterns: readonly string[] | undefined): (site: string, agent: string) => boolean {
  if (patterns === undefined) return () => true;
  const pairs = patterns.map((p) => p.split('/') as [string, string]);
  return (site, agent) => pairs.some(([s, a]) => (s === '*' || s === site) && (a === '*' || a === agent));
}

export class AgentBook {
  private readonly states = new Map<string, AgentState>();
  private readonly loading = new Map<string, Promise<AgentState | undefined>>();
  readonly allowed: (site: string, agent: string) => boolean;

  constructor(
    private readonly store: CentralStore,
    private readonly feed: CentralFeed,
    private readonly findings: Findings,
    cfg: VerifyConfig,
    private readonly centralId: string,
    private readonly now: () => number,
  ) {
    this.allowed = allowTest(cfg.allow_agents);
  }

  /** The cached state of an agent, loaded from the store on first use; undefined when never seen. */
  async get(site: string, agent: string): Promise<AgentState | undefined> {
    const k = `${site}/${agent}`;
    const held = this.states.get(k);
    if (held !== undefined) return held;
    let p = this.loading.get(k);
    if (p === undefined) {
      p = this.store.getAgent(site, agent).then((rec) => {
        this.loading.delete(k);
        if (rec === undefined) return undefined;
        return this.put(rec);
      });
      this.loading.set(k, p);
    }
    return p;
  }

  cached(site: string, agent: string): AgentState | undefined {
    return this.states.get(`${site}/${agent}`);
  }

  all(): AgentState[] {
    return [...this.states.values()];
  }

  /** Replace the cached record (keeps the parsed key when the pinned key is unchanged). */
  put(rec: AgentRecord): AgentState {
    const k = `${rec.site}/${rec.agent}`;
    const old = this.states.get(k);
    const st: AgentState = { rec, status_seen_ms: old?.status_seen_ms };
    if (rec.pinned !== undefined) st.key = old?.rec.pinned?.key_id === rec.pinned.key_id && old.key ? old.key : parsePublicKey(rec.pinned.public_key, `pinned key of ${k}`);
    this.states.set(k, st);
    return st;
  }

  /** A record changed in the store by someone else's call (the chain's compare-and-set): cache and announce it. */
  changed(rec: AgentRecord): AgentState {
    const st = this.put(rec);
    this.feed.emit('agent', rec);
    return st;
  }

  /** Apply a patch in the store, cache and announce the result. */
  async touch(site: string, agent: string, patch: Parameters<CentralStore['touchAgent']>[2]): Promise<AgentState> {
    const rec = await this.store.touchAgent(site, agent, patch, this.now());
    const st = this.put(rec);
    this.feed.emit('agent', rec);
    return st;
  }

  /** Pick up keys an operator pinned or accepted (`central keys accept`) since the last look: one read. */
  async refreshKeys(): Promise<void> {
    for (const rec of await this.store.listAgents()) {
      const st = this.states.get(`${rec.site}/${rec.agent}`);
      if (st === undefined || rec.pinned?.key_id !== st.rec.pinned?.key_id || rec.pending?.key_id !== st.rec.pending?.key_id) {
        this.put({ ...(st?.rec ?? {}), ...rec });
        this.feed.emit('agent', rec);
      }
    }
  }

  /**
   * A status or assets payload: the announced key (pinned on first sight, a different one is a
   * key change), and for status its state (a Last Will is an `offline` finding).
   */
  async announcement(kind: 'status' | 'assets', site: string, agent: string, body: Record<string, unknown>, topic: string): Promise<void> {
    const now = this.now();
    if (!this.allowed(site, agent)) {
      await this.findings.raise({ code: 'unknown_agent', site, agent, message: `${kind} of ${site}/${agent} on ${topic}: this agent is not in verify.allow_agents; its signals are refused (add it there if it is yours).`, evidence: { topic }, dedupe_key: `unknown_agent:${site}/${agent}` });
      return;
    }
    const key = await this.announcedKey(kind, site, agent, body, topic);
    if (key !== undefined) {
      const pinned = await this.store.pinKeyIfNone(site, agent, key, `first sight (${kind}, central ${this.centralId})`, now);
      if (pinned.key_id !== key.key_id) {
        const st = await this.get(site, agent);
        if (st?.rec.pending?.key_id !== key.key_id) {
          await this.touch(site, agent, { pending: { ...key, seen_ms: now } });
          await this.findings.raise({
            code: 'key_changed',
            site,
            agent,
            message: `${site}/${agent} announces signing key ${key.key_id} but ${pinned.key_id} is pinned; its signals signed with the new key are refused until an operator checks the key on the gateway (otsentry key --config FILE) and runs: otsentry central keys accept --config CENTRAL.yaml ${site}/${agent} --key-id ${key.key_id}.`,
            evidence: { topic, pinned_key_id: pinned.key_id, announced_key_id: key.key_id },
            dedupe_key: `key_changed:${site}/${agent}:${key.key_id}`,
          });
        }
      }
    }
    if (kind === 'assets') {
      const rec = { site, agent, payload: body, received_ms: now };
      await this.store.putAssets(rec);
      this.feed.emit('assets', rec);
      await this.touch(site, agent, {});
      return;
    }
    const state = body.state === 'offline' ? 'offline' : 'online';
    const st = await this.touch(site, agent, { status: body, status_state: state, status_ms: now });
    st.status_seen_ms = now;
    if (state === 'offline') {
      const lost = body.reason !== 'stopped';
      await this.findings.raise({
        code: 'offline',
        severity: lost ? 'high' : 'info',
        site,
        agent,
        message: lost
          ? `${site}/${agent} is offline: its Last Will was published (connection lost without a goodbye since ${String(body.ts ?? 'unknown')}); check the gateway, its network and the agent service.`
          : `${site}/${agent} stopped (graceful shutdown at ${String(body.ts ?? 'unknown')}).`,
        evidence: { topic, reason: body.reason, ts: body.ts },
        dedupe_key: `offline:${site}/${agent}:${String(body.ts)}`,
      });
    }
  }

  private async announcedKey(kind: string, site: string, agent: string, body: Record<string, unknown>, topic: string): Promise<AgentKey | undefined> {
    const info = body.signing_key as { key_id?: unknown; public_key?: unknown } | undefined;
    if (info === undefined || info === null) return undefined;
    const bad = (why: string) =>
      this.findings.raise({ code: 'malformed', site, agent, message: `${kind} of ${site}/${agent} on ${topic}: ${why}; the key is not used.`, evidence: { topic, signing_key: clip(JSON.stringify(info)) } });
    if (typeof info.key_id !== 'string' || typeof info.public_key !== 'string') {
      await bad('signing_key needs key_id and public_key strings');
      return undefined;
    }
    try {
      const id = keyIdOf(parsePublicKey(info.public_key, 'signing_key.public_key'));
      if (id !== info.key_id) {
        await bad(`signing_key announces key_id ${info.key_id} but its public key's id is ${id}`);
        return undefined;
      }
    } catch (e) {
      await bad((e as Error).message.replace(/\.$/, ''));
      return undefined;
    }
    return { key_id: info.key_id, public_key: info.public_key };
  }
}
