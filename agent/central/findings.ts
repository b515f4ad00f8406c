// Central's own findings: each is stored (deduped by its key where one is given), announced on
// the feed, counted, and logged as one line naming the agent and the fix. A refused input gets
// exactly one finding and one log line; nothing else about it is kept.
import type { Logger } from '../../protocols/log.js';
import type { CentralFeed } from './feed.js';
import type { CentralStore, FindingCode, FindingInput, FindingSeverity, StoredFinding } from './store/types.js';

/** How bad each finding is (the SIEM output and the console grade by it). */
export const FINDING_SEVERITY: Record<FindingCode, FindingSeverity> = {
  malformed: 'medium',
  oversized: 'medium',
  unknown_agent: 'medium',
  replayed: 'high',
  edited: 'high',
  forged: 'critical',
  bad_signature: 'critical',
  unsigned: 'high',
  key_changed: 'high',
  seq_conflict: 'high',
  chain_broken: 'high',
  gap: 'medium',
  stalled: 'high',
  offline: 'high',
};

/** Findings that refuse one received message (the others describe an agent's state). */
export const REFUSAL_CODES: ReadonlySet<FindingCode> = new Set(['malformed', 'oversized', 'unknown_agent', 'replayed', 'edited', 'forged', 'bad_signature', 'unsigned', 'key_changed', 'seq_conflict']);

export type FindingDraft = Omit<FindingInput, 'severity' | 'ts_ms'> & { severity?: FindingSeverity };

/** Evidence text is cut to this many characters: a refused 60 KB payload must not fill the store. */
const EVIDENCE_CHARS = 2048;

export function clip(text: string): string {
  return text.length <= EVIDENCE_CHARS ? text : `${text.slice(0, EVIDENCE_CHARS)}... (${text.length} characters)`;
}

export class Findings {
  /** findings raised (stored, not deduped away) by code */
  readonly raised = new Map<FindingCode, number>();
  /** refused inputs by code (deduped or not: each refused message counts) */
  readonly refused = new Map<FindingCode, number>();

  constructor(
    private readonly store: CentralStore,
    private readonly feed: CentralFeed,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Store, announce and log one finding; undefined when its dedupe_key was raised before. */
  async raise(d: FindingDraft): Promise<StoredFinding | undefined> {
    const f: FindingInput = { ...d, severity: d.severity ?? FINDING_SEVERITY[d.code], ts_ms: this.now() };
    if (REFUSAL_CODES.has(d.code)) this.refused.set(d.code, (this.refused.get(d.code) ?? 0) + 1);
    const stored = await this.store.addFinding(f);
    const where = { finding: d.code, site: d.site, agent: d.agent, seq: d.seq, topic: d.evidence?.topic };
    if (stored === undefined) {
      // A refused message still gets its log line; a state finding raised before stays quiet.
      if (REFUSAL_CODES.has(d.code)) this.log.warn(where, `${d.message.replace(/\.$/, '')} (finding raised before).`);
      else this.log.debug(where, `Already raised: ${d.message}`);
      return undefined;
    }
    this.raised.set(d.code, (this.raised.get(d.code) ?? 0) + 1);
    this.log.warn({ ...where, finding_id: stored.id }, d.message);
    this.feed.emit('finding', stored);
    return stored;
  }
}
