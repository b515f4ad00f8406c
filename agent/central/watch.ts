// Central's periodic look at every agent: an agent whose seq has not risen for
// verify.stall_after_secs while its status says online, and that has something to send (its
// status reports outbox_depth > 0) or has stopped refreshing its status, is `stalled`. The sweep
// also closes holes older than the gap grace period, refuses events that waited too long for a
// key, and picks up keys an operator accepted.
import type { AgentBook } from './agents.js';
import type { ChainKeeper } from './chain.js';
import type { VerifyConfig } from './config/schema.js';
import type { Findings } from './findings.js';
import type { Ingest } from './ingest.js';

export async function sweep(book: AgentBook, chain: ChainKeeper, ingest: Ingest, findings: Findings, cfg: VerifyConfig, now: number): Promise<void> {
  await book.refreshKeys();
  await ingest.expireHeld();
  for (const [site, agent] of chain.overdue()) await chain.advance(site, agent, true);
  if (cfg.stall_after_secs === 0) return;
  const stallMs = cfg.stall_after_secs * 1000;
  for (const st of book.all()) {
    const r = st.rec;
    if (r.status_state !== 'online') continue;
    const progress = r.last_seq_ms ?? r.first_seen_ms;
    const quietMs = now - progress;
    if (quietMs < stallMs) continue;
    const depth = Number(r.status?.outbox_depth ?? 0);
    const statusAgeMs = now - (st.status_seen_ms ?? r.status_ms ?? r.first_seen_ms);
    if (!(depth > 0) && statusAgeMs < stallMs) continue;
    const name = `${r.site}/${r.agent}`;
    const why = depth > 0 ? `its status reports ${depth} events waiting in the outbox` : `its status has not been refreshed for ${Math.round(statusAgeMs / 1000)} s`;
    await findings.raise({
      code: 'stalled',
      site: r.site,
      agent: r.agent,
      seq: r.last_seq,
      message: `${name}: seq has not risen past ${r.last_seq} for ${Math.round(quietMs / 1000)} s while its status says online and ${why}: the agent or its forwarding is stalled; check the agent log and its broker connection.`,
      evidence: { last_seq: r.last_seq, outbox_depth: depth, status_age_s: Math.round(statusAgeMs / 1000) },
      dedupe_key: `stalled:${name}:${r.last_seq}`,
    });
  }
}
