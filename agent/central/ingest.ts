// The receiving pipeline: messages from the broker are judged in arrival order, in batches. Events
// that pass (judge.ts) are stored in one transaction per batch, deduped by id; a duplicate id is a
// redelivery (acked, counted) or, long after the first arrival, a replay (refused); another signal
// on a stored seq is a seq conflict. Status and assets (agents.ts) are handled between events in
// the order they came. Every message is acked only once it is stored or refused with its finding,
// so a crash loses nothing: the broker resends what was not acked. A store error keeps the batch
// and retries it.
import crypto from 'node:crypto';
import type { Logger } from '../../protocols/log.js';
import type { AgentBook, AgentState } from './agents.js';
import type { ChainKeeper } from './chain.js';
import type { VerifyConfig } from './config/schema.js';
import type { CentralFeed } from './feed.js';
import { clip, type FindingDraft, type Findings } from './findings.js';
import { judgeSignal, parseEvent, sigJobFor, type Parsed } from './judge.js';
import type { SigJob, SigPool } from './sigpool.js';
import type { Inbound } from './link.js';
import type { CentralStore, SignalInput } from './store/types.js';

export interface IngestStats {
  received: number;
  verified: number;
  stored: number;
  /** the same signal again within verify.replay_after_secs (at-least-once delivery) */
  duplicates: number;
  /** events waiting for their agent's key */
  held: number;
  store_errors: number;
}

interface Accepted {
  m: Inbound;
  row: SignalInput;
}

interface Held {
  m: Inbound;
  topic: string;
  p: Parsed;
  since_ms: number;
}

/** Messages judged per store transaction at most. */
const BATCH = 1000;
/** Events held for a key at most; more are refused as unknown_agent. */
const MAX_HELD = 10_000;

export class Ingest {
  readonly stats: IngestStats = { received: 0, verified: 0, stored: 0, duplicates: 0, held: 0, store_errors: 0 };
  /** per agent: ms between the observation (signal ts) and its arrival, of the latest stored signal */
  readonly lag = new Map<string, number>();
  private readonly queue: Inbound[] = [];
  private held: Held[] = [];
  private running?: Promise<void>;
  private stopped = false;
  private readonly prefix: string;

  constructor(
    topicPrefix: string,
    private readonly store: CentralStore,
    private readonly feed: CentralFeed,
    private readonly book: AgentBook,
    private readonly chain: ChainKeeper,
    private readonly findings: Findings,
    private readonly cfg: VerifyConfig,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly sigs: SigPool,
  ) {
    this.prefix = `${topicPrefix}/`;
  }

  push(m: Inbound): void {
    this.queue.push(m);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves when everything received so far is judged (tests, stop). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async drain(): Promise<void> {
    let backoff = 100;
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.slice(0, BATCH);
      try {
        await this.process(batch);
        this.queue.splice(0, batch.length);
        backoff = 100;
      } catch (e) {
        // The store is unavailable (PostgreSQL restarting, disk full): nothing is acked, the
        // batch is tried again; the broker holds what follows.
        this.stats.store_errors++;
        this.log.error({ error_code: 'store_failed', err: (e as Error).message, batch: batch.length }, `Storing a batch of ${batch.length} messages failed (${(e as Error).message}); retrying in ${backoff} ms; nothing is acked meanwhile.`);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  private async process(batch: readonly Inbound[]): Promise<void> {
    // Runs of events between status/assets messages are judged together (their signatures in
    // parallel); a status or assets message may change a key, so it is handled in its place.
    let run: Array<{ m: Inbound; site: string; agent: string }> = [];
    for (const m of batch) {
      const where = this.parseTopic(m.topic);
      if (where === undefined) {
        m.ack(); // not one of ours (a broker ACL or a wildcard in the prefix let it through)
        continue;
      }
      const { site, agent, kind } = where;
      if (kind === 'events') {
        run.push({ m, site, agent });
        continue;
      }
      await this.events(run);
      run = [];
      await this.announcement(kind, site, agent, m);
    }
    await this.events(run);
  }

  private async events(run: ReadonlyArray<{ m: Inbound; site: string; agent: string }>): Promise<void> {
    const parsed: Array<{ m: Inbound; p: Parsed; st: AgentState | undefined; job?: SigJob }> = [];
    for (const { m, site, agent } of run) {
      this.stats.received++;
      const p = parseEvent(m.topic, site, agent, m.payload, this.cfg);
      if ('finding' in p) {
        await this.refuse(p.finding, m);
        continue;
      }
      if (!this.book.allowed(site, agent)) {
        await this.refuse({ code: 'unknown_agent', site, agent, seq: p.signal.seq, message: `${site}/${agent} seq ${p.signal.seq}: this agent is not in verify.allow_agents; refused.`, evidence: { topic: m.topic, id: p.signal.id } }, m);
        continue;
      }
      const st = await this.book.get(site, agent);
      parsed.push({ m, p, st, job: sigJobFor(p, st) });
    }
    const jobs = parsed.filter((x) => x.job !== undefined);
    const verdicts = await this.sigs.check(jobs.map((x) => x.job!));
    const sigOk = new Map(jobs.map((x, i) => [x, verdicts[i]!]));
    const accepted: Accepted[] = [];
    for (const x of parsed) {
      const j = judgeSignal(x.p, x.st, x.m.topic, this.cfg, sigOk.get(x));
      if (j.kind === 'refuse') await this.refuse(j.finding, x.m, x.p.payload);
      else if (j.kind === 'hold') await this.hold(x.m, x.p);
      else accepted.push({ m: x.m, row: { signal: j.signal, payload: j.payload, verdict: j.verdict, received_ms: this.now() } });
    }
    await this.flush(accepted);
  }

  private parseTopic(topic: string): { site: string; agent: string; kind: 'events' | 'status' | 'assets' } | undefined {
    if (!topic.startsWith(this.prefix)) return undefined;
    const parts = topic.slice(this.prefix.length).split('/');
    if (parts.length !== 3) return undefined;
    const [site, agent, kind] = parts as [string, string, string];
    return kind === 'events' || kind === 'status' || kind === 'assets' ? { site, agent, kind } : undefined;
  }

  private async announcement(kind: 'status' | 'assets', site: string, agent: string, m: Inbound): Promise<void> {
    // An empty retained payload clears the topic (an operator removing an agent): nothing to judge.
    if (m.payload.length === 0) return m.ack();
    if (m.payload.length > this.cfg.max_payload_bytes * 16) {
      await this.refuse({ code: 'oversized', site, agent, message: `${kind} on ${m.topic} is ${m.payload.length} bytes, over 16 x verify.max_payload_bytes; refused.`, evidence: { topic: m.topic, bytes: m.payload.length } }, m);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(m.payload.toString('utf8'));
    } catch (e) {
      await this.refuse({ code: 'malformed', site, agent, message: `${kind} on ${m.topic} is not JSON (${(e as Error).message}); refused.`, evidence: { topic: m.topic, payload: clip(m.payload.toString('utf8')) } }, m);
      return;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      await this.refuse({ code: 'malformed', site, agent, message: `${kind} on ${m.topic} is not a JSON object; refused.`, evidence: { topic: m.topic, payload: clip(m.payload.toString('utf8')) } }, m);
      return;
    }
    await this.book.announcement(kind, site, agent, body as Record<string, unknown>, m.topic);
    m.ack();
    await this.release(site, agent);
  }

  /** Events held for this agent's key, judged again now that it may be known. */
  private async release(site: string, agent: string): Promise<void> {
    const mine = this.held.filter((h) => h.p.signal.site === site && h.p.signal.agent === agent);
    if (mine.length === 0) return;
    const st = await this.book.get(site, agent);
    if (st?.key === undefined) return;
    this.held = this.held.filter((h) => !mine.includes(h));
    this.stats.held = this.held.length;
    const accepted: Accepted[] = [];
    for (const h of mine) {
      const j = judgeSignal(h.p, st, h.topic, this.cfg);
      if (j.kind === 'refuse') await this.refuse(j.finding, h.m, h.p.payload);
      else if (j.kind === 'accept') accepted.push({ m: h.m, row: { signal: j.signal, payload: j.payload, verdict: j.verdict, received_ms: this.now() } });
    }
    await this.flush(accepted);
  }

  private async hold(m: Inbound, p: Parsed): Promise<void> {
    const { site, agent, seq } = p.signal;
    if (this.held.length >= MAX_HELD) {
      await this.refuse({ code: 'unknown_agent', site, agent, seq, message: `${site}/${agent} seq ${seq}: no signing key known for this agent and ${MAX_HELD} events already wait for keys; refused.`, evidence: { topic: m.topic, id: p.signal.id } }, m, p.payload);
      return;
    }
    this.held.push({ m, topic: m.topic, p, since_ms: this.now() });
    this.stats.held = this.held.length;
  }

  /** Judge again the held events of agents whose key became known (an operator pinned it), then
   * refuse those that waited longer than verify.key_wait_secs. */
  async expireHeld(): Promise<void> {
    const waiting = new Map(this.held.map((h) => [`${h.p.signal.site}/${h.p.signal.agent}`, h.p.signal] as const));
    for (const s of waiting.values()) await this.release(s.site, s.agent);
    const cut = this.now() - this.cfg.key_wait_secs * 1000;
    const old = this.held.filter((h) => h.since_ms <= cut);
    if (old.length === 0) return;
    this.held = this.held.filter((h) => h.since_ms > cut);
    this.stats.held = this.held.length;
    for (const h of old) {
      const { site, agent, seq } = h.p.signal;
      await this.refuse(
        {
          code: 'unknown_agent',
          site,
          agent,
          seq,
          message: `${site}/${agent} seq ${seq}: no signing key known for this agent after ${this.cfg.key_wait_secs} s (it published no status or assets with signing_key); refused. Pin its key with \`otsentry central keys accept --config CENTRAL.yaml ${site}/${agent} --key FILE\` if it is yours.`,
          evidence: { topic: h.topic, id: h.p.signal.id },
        },
        h.m,
        h.p.payload,
      );
    }
  }

  private async refuse(f: FindingDraft, m: Inbound, payload = m.payload.toString('utf8')): Promise<void> {
    // The same bytes refused again (a broker resending what central had not acked) are one input.
    const digest = crypto.createHash('sha256').update(payload).digest('hex').slice(0, 32);
    await this.findings.raise({ ...f, dedupe_key: f.dedupe_key ?? `${f.code}:${digest}` });
    m.ack();
  }

  /** Store the accepted events, sort out the ids already stored, move the chains, ack. */
  private async flush(accepted: readonly Accepted[]): Promise<void> {
    if (accepted.length === 0) return;
    const { arrivals } = await this.store.insertSignals(accepted.map((a) => a.row));
    const now = this.now();
    const top = new Map<string, { site: string; agent: string; seq: number }>();
    for (let i = 0; i < accepted.length; i++) {
      const { m, row } = accepted[i]!;
      const s = row.signal;
      this.stats.verified += row.verdict === 'verified' ? 1 : 0;
      const arrival = arrivals[i];
      if (arrival === undefined) {
        await this.alreadyStored(row, m.topic);
        continue;
      }
      this.stats.stored++;
      this.chain.stored(s);
      const k = `${s.site}/${s.agent}`;
      const t = Date.parse(s.ts);
      if (Number.isFinite(t)) this.lag.set(k, Math.max(0, row.received_ms - t));
      const cur = top.get(k);
      if (cur === undefined || s.seq > cur.seq) top.set(k, { site: s.site, agent: s.agent, seq: s.seq });
      this.feed.emit('signal', { ...row, arrival });
    }
    for (const { site, agent, seq } of top.values()) {
      const st = await this.book.get(site, agent);
      if (st === undefined || seq > st.rec.last_seq) await this.book.touch(site, agent, { last_seq: seq, last_seq_ms: now });
      await this.chain.advance(site, agent);
    }
    for (const a of accepted) a.m.ack();
  }

  /** An accepted event whose id or seq is stored already: a redelivery, a replay or a conflict. */
  private async alreadyStored(row: SignalInput, topic: string): Promise<void> {
    const s = row.signal;
    const name = `${s.site}/${s.agent} seq ${s.seq}`;
    const same = await this.store.signalById(s.id);
    const evidence = { topic, id: s.id, payload: clip(row.payload) };
    if (same !== undefined && same.payload === row.payload) {
      const age = row.received_ms - same.received_ms;
      if (age <= this.cfg.replay_after_secs * 1000) {
        this.stats.duplicates++;
        return;
      }
      await this.findings.raise({ code: 'replayed', site: s.site, agent: s.agent, seq: s.seq, message: `${name}: received again ${Math.round(age / 1000)} s after its first arrival (over verify.replay_after_secs ${this.cfg.replay_after_secs}): a replayed old signal; refused.`, evidence: { ...evidence, first_received_ms: same.received_ms }, dedupe_key: `replayed:${s.id}:${Math.floor(row.received_ms / 60_000)}` });
      return;
    }
    const other = same ?? (await this.store.signalsBySeq(s.site, s.agent, s.seq, s.seq))[0];
    await this.findings.raise({
      code: 'seq_conflict',
      site: s.site,
      agent: s.agent,
      seq: s.seq,
      message: `${name}: a different signal (${same !== undefined ? 'same id, other content' : `id ${other?.signal.id ?? 'unknown'}`}) is stored for this ${same !== undefined ? 'id' : 'seq'} and both verify with the agent's key (a forked chain: an outbox reset, or two agents with one id); refused.`,
      evidence: { ...evidence, stored_id: other?.signal.id, stored_hash: other?.signal.hash },
      dedupe_key: `seq_conflict:${s.id}:${s.hash}`,
    });
  }
}
