// Each agent's hash chain as central stores it: the verified prefix (every seq up to chain_seq
// stored or reported dropped by a gap event, each link checked) advances as signals arrive, in
// any order and split across central processes (the store's compare-and-set decides who moves
// it). A hole waits verify.gap_grace_secs for the missing seq or a gap event that covers it;
// then it is a `gap` finding and the chain goes on after it. A bad link is `chain_broken`.
import { GAP_RULE, GENESIS_HASH, gapEventRanges, type GapRange } from '../outbox/canonical.js';
import { droppedHashes } from '../verify/check.js';
import type { RiskSignal } from '../../rules/signal.js';
import type { AgentBook, AgentState } from './agents.js';
import type { VerifyConfig } from './config/schema.js';
import type { Findings } from './findings.js';
import type { ChainState, CentralStore } from './store/types.js';

interface Link {
  hash: string;
  prev_hash: string;
  gap: boolean;
}

interface Hole {
  first: number;
  since_ms: number;
}

/** Store reads per advance when this process lacks the next seq (another process may have it). */
const FETCH = 2000;

export class ChainKeeper {
  /** signals above each agent's chain_seq, by seq */
  private readonly links = new Map<string, Map<number, Link>>();
  private readonly holes = new Map<string, Hole>();

  constructor(
    private readonly store: CentralStore,
    private readonly book: AgentBook,
    private readonly findings: Findings,
    private readonly cfg: VerifyConfig,
    private readonly now: () => number,
  ) {}

  /** A signal this process stored. */
  stored(s: RiskSignal): void {
    const k = `${s.site}/${s.agent}`;
    let m = this.links.get(k);
    if (m === undefined) this.links.set(k, (m = new Map()));
    m.set(s.seq, { hash: s.hash, prev_hash: s.prev_hash, gap: s.rule === GAP_RULE });
  }

  /** Agents with a hole older than the grace period. */
  overdue(): Array<[string, string]> {
    const cut = this.now() - this.cfg.gap_grace_secs * 1000;
    return [...this.holes.entries()].filter(([, h]) => h.since_ms <= cut).map(([k]) => k.split('/') as [string, string]);
  }

  openHoles(): number {
    return this.holes.size;
  }

  /** Move the agent's verified prefix as far as the stored signals allow; `closeHoles` after the grace period. */
  async advance(site: string, agent: string, closeHoles = false): Promise<void> {
    const k = `${site}/${agent}`;
    const links = this.links.get(k) ?? new Map<number, Link>();
    this.links.set(k, links);
    for (let attempt = 0; attempt < 5; attempt++) {
      const st = await this.book.get(site, agent);
      if (st === undefined) return;
      const moved = await this.walk(st, links, closeHoles);
      if (moved === undefined) break;
      if (await this.store.advanceChain(site, agent, st.rec.chain_seq, moved.patch)) {
        this.book.changed({ ...st.rec, ...moved.patch });
        for (const f of moved.findings) await f();
        break;
      }
      // Another central process moved it first: read where it is now and go on from there.
      const rec = await this.store.getAgent(site, agent);
      if (rec !== undefined) this.book.put(rec);
    }
    const top = (await this.book.get(site, agent))?.rec.chain_seq ?? 0;
    for (const seq of links.keys()) if (seq <= top) links.delete(seq);
    if (links.size === 0) {
      this.holes.delete(k);
      return;
    }
    const hole = this.holes.get(k);
    if (hole?.first !== top + 1) this.holes.set(k, { first: top + 1, since_ms: this.now() });
  }

  /** The new chain position and the findings to raise once it is committed; undefined when it cannot move. */
  private async walk(st: AgentState, links: Map<number, Link>, closeHoles: boolean): Promise<{ patch: { chain_seq: number; chain_hash?: string; chain_state?: ChainState }; findings: Array<() => Promise<unknown>> } | undefined> {
    const { site, agent } = st.rec;
    const name = `${site}/${agent}`;
    let seq = st.rec.chain_seq;
    let hash = st.rec.chain_hash;
    let state: ChainState = st.rec.chain_state;
    const findings: Array<() => Promise<unknown>> = [];
    const lowest = () => Math.min(...links.keys());
    if (links.size === 0) return undefined;
    if (seq === 0 && hash === undefined) {
      // First signals of this agent central sees: from seq 1 the genesis link is checked; an
      // agent that was running before central came starts its chain where central first saw it.
      const first = lowest();
      if (first === 1) hash = GENESIS_HASH;
      else seq = first - 1;
    }
    let gaps: { ranges: GapRange[]; hashes: Map<number, string> } | undefined;
    for (;;) {
      const next = seq + 1;
      let l = links.get(next);
      if (l === undefined && [...links.keys()].some((q) => q > next)) {
        for (const r of await this.store.signalsBySeq(site, agent, next, next + FETCH)) if (!links.has(r.signal.seq)) links.set(r.signal.seq, { hash: r.signal.hash, prev_hash: r.signal.prev_hash, gap: r.signal.rule === GAP_RULE });
        l = links.get(next);
      }
      if (l === undefined) {
        const above = [...links.keys()].filter((q) => q > next);
        if (above.length === 0) break;
        // A hole: a stored gap event may report it dropped, else it waits for the grace period.
        if (gaps === undefined && (closeHoles || above.some((q) => links.get(q)!.gap))) gaps = await this.gapEvidence(site, agent, seq);
        const cover = gaps?.ranges.find((r) => r.first <= next && next <= r.last);
        if (cover !== undefined) {
          const last = Math.min(cover.last, Math.min(...above) - 1);
          seq = last;
          hash = gaps!.hashes.get(last);
          if (hash === undefined) {
            const at = last + 1;
            findings.push(() => this.findings.raise({ code: 'chain_broken', site, agent, seq: at, message: `${name} seq ${at}: the gap event gives no hash for the dropped seq ${last}, so its link cannot be checked.`, dedupe_key: `chain_broken:${name}:${at}` }));
          }
          continue;
        }
        if (!closeHoles) break;
        const resume = Math.min(...above);
        const first = next;
        const lastMissing = resume - 1;
        state = 'gap';
        findings.push(() =>
          this.findings.raise({
            code: 'gap',
            site,
            agent,
            seq: first,
            message: `${name}: seq ${first === lastMissing ? first : `${first}-${lastMissing}`} missing for over ${this.cfg.gap_grace_secs} s and not reported by a gap event (removed, or lost between agent and central); the chain goes on from seq ${resume}.`,
            evidence: { first, last: lastMissing },
            dedupe_key: `gap:${name}:${first}-${lastMissing}`,
          }),
        );
        seq = lastMissing;
        hash = undefined;
        continue;
      }
      if (hash !== undefined && l.prev_hash !== hash) {
        state = 'broken';
        const at = next;
        const expected = hash;
        findings.push(() =>
          this.findings.raise({
            code: 'chain_broken',
            site,
            agent,
            seq: at,
            message: `${name} seq ${at}: prev_hash does not match the hash of seq ${at - 1} (chain broken: an event was replaced, reordered or inserted, or the agent's outbox was reset).`,
            evidence: { prev_hash: l.prev_hash, expected },
            dedupe_key: `chain_broken:${name}:${at}`,
          }),
        );
      }
      seq = next;
      hash = l.hash;
    }
    if (seq === st.rec.chain_seq && hash === st.rec.chain_hash) return undefined;
    return { patch: { chain_seq: seq, chain_hash: hash, chain_state: state }, findings };
  }

  private async gapEvidence(site: string, agent: string, after: number): Promise<{ ranges: GapRange[]; hashes: Map<number, string> }> {
    const ranges: GapRange[] = [];
    const hashes = new Map<number, string>();
    for (const g of await this.store.gapSignals(site, agent, after)) {
      ranges.push(...gapEventRanges(g.signal));
      for (const [q, h] of droppedHashes(g.signal)) hashes.set(q, h);
    }
    return { ranges, hashes };
  }
}
