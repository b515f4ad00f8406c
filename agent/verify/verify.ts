// The verifier's judgement, pure: given captured signals and public keys, check per agent every
// hash, signature, chain link and seq, account for duplicates and retention gaps, and list each
// problem with the seq (and capture line) it concerns. No I/O; capture.ts feeds it.
import type { KeyObject } from 'node:crypto';
import { GAP_RULE, GENESIS_HASH, canonicalJson, gapEventRanges, type GapRange } from '../outbox/canonical.js';
import { checkSignal, droppedHashes } from './check.js';
import type { RiskSignal } from '../../rules/signal.js';

export interface CapturedSignal {
  /** 1-based line of the capture (or message number of a subscription) */
  line: number;
  signal: RiskSignal;
}

/** A public key and where it came from (`--key FILE`, or a status/assets line of the capture). */
export interface KnownKey {
  key_id: string;
  key: KeyObject;
  source: string;
}

export interface VerifyOptions {
  /** keys given by the user; when any is given, keys announced in the capture are not used */
  keys: KnownKey[];
  /** keys announced in the capture, by `site/agent` */
  announced: ReadonlyMap<string, KnownKey[]>;
  /** v1 (unsigned) signals count as problems */
  requireSigned?: boolean;
  /** seqs every agent must have from / up to (else leading/trailing seqs absent are not missing) */
  firstSeq?: number;
  lastSeq?: number;
}

export type ProblemCode =
  | 'edited'
  | 'forged'
  | 'unknown_key'
  | 'no_key'
  | 'key_changed'
  | 'unsigned'
  | 'chain_broken'
  | 'missing'
  | 'seq_conflict'
  | 'genesis';

export interface Problem {
  code: ProblemCode;
  seq?: number;
  line?: number;
  message: string;
}

export interface GapInfo {
  first: number;
  last: number;
  /** seq of a gap event that reports every seq of this range as dropped */
  covered_by?: number;
}

export interface AgentReport {
  site: string;
  agent: string;
  /** key ids used and where they came from; empty when none was known */
  keys: Array<{ key_id: string; source: string }>;
  /** signal messages received, duplicates included */
  received: number;
  /** distinct seqs received */
  unique: number;
  /** the same signal received again (at-least-once delivery; not an error) */
  duplicates: number;
  first_seq: number;
  last_seq: number;
  hashes_ok: number;
  links_ok: number;
  signatures_ok: number;
  /** v1 signals: hash and chain checked, no signature */
  unsigned: number;
  /** signals whose first arrival came after a higher seq (informational) */
  out_of_order: number;
  gaps: GapInfo[];
  problems: Problem[];
}

export interface VerifyReport {
  ok: boolean;
  agents: AgentReport[];
}

export function verifySignals(signals: readonly CapturedSignal[], opts: VerifyOptions): VerifyReport {
  const byAgent = new Map<string, CapturedSignal[]>();
  for (const c of signals) {
    const key = `${c.signal.site}/${c.signal.agent}`;
    let list = byAgent.get(key);
    if (list === undefined) byAgent.set(key, (list = []));
    list.push(c);
  }
  const agents = [...byAgent.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, list]) => verifyAgent(list, keysFor(key, opts), opts));
  return { ok: agents.every((a) => a.problems.length === 0), agents };
}

interface KeyRing {
  keys: KnownKey[];
  problems: Problem[];
}

function keysFor(agentKey: string, opts: VerifyOptions): KeyRing {
  if (opts.keys.length > 0) return { keys: opts.keys, problems: [] };
  const announced = opts.announced.get(agentKey) ?? [];
  const distinct = [...new Map(announced.map((k) => [k.key_id, k])).values()];
  const problems: Problem[] =
    distinct.length > 1
      ? [{ code: 'key_changed', message: `the capture announces ${distinct.length} different keys for ${agentKey} (${distinct.map((k) => `${k.key_id} from ${k.source}`).join(', ')}): a key change the central side must confirm.` }]
      : [];
  return { keys: distinct, problems };
}

/** One seq as verified: the signal kept for the chain and what its own checks said. */
interface Entry {
  c: CapturedSignal;
  hashOk: boolean;
  /** true/false for v2, undefined for v1 or when no key could check it */
  sigOk?: boolean;
}

function verifyAgent(list: CapturedSignal[], ring: KeyRing, opts: VerifyOptions): AgentReport {
  const first = list[0]!.signal;
  const problems: Problem[] = [...ring.problems];
  const report: AgentReport = {
    site: first.site,
    agent: first.agent,
    keys: ring.keys.map((k) => ({ key_id: k.key_id, source: k.source })),
    received: list.length,
    unique: 0,
    duplicates: 0,
    first_seq: 0,
    last_seq: 0,
    hashes_ok: 0,
    links_ok: 0,
    signatures_ok: 0,
    unsigned: 0,
    out_of_order: 0,
    gaps: [],
    problems,
  };
  const keyById = new Map(ring.keys.map((k) => [k.key_id, k]));
  let noKeyReported = false;

  const check = (c: CapturedSignal): Entry => ({ c, ...checkSignal(c.signal, (id) => keyById.get(id)?.key) });

  // One entry per seq: the first authentic variant; other variants are duplicates or conflicts.
  const bySeq = new Map<number, { entry: Entry; texts: Set<string> }>();
  let highest = -Infinity;
  for (const c of list) {
    const s = c.signal;
    const text = canonicalJson(s);
    const held = bySeq.get(s.seq);
    if (held === undefined) {
      if (s.seq < highest) report.out_of_order++;
      highest = Math.max(highest, s.seq);
      bySeq.set(s.seq, { entry: check(c), texts: new Set([text]) });
      continue;
    }
    if (held.texts.has(text)) {
      report.duplicates++;
      continue;
    }
    held.texts.add(text);
    const other = check(c);
    const authentic = (e: Entry) => e.hashOk && e.sigOk !== false;
    if (authentic(held.entry) && authentic(other)) {
      problems.push({ code: 'seq_conflict', seq: s.seq, line: c.line, message: `seq ${s.seq}: line ${c.line} and line ${held.entry.c.line} are two different signals that both verify (a forked chain: an outbox reset, or two agents with one id).` });
    } else {
      const bad = authentic(other) ? held.entry : other;
      if (bad === held.entry) bySeq.set(s.seq, { entry: other, texts: held.texts });
      problems.push({ code: bad.hashOk ? 'forged' : 'edited', seq: s.seq, line: bad.c.line, message: `seq ${s.seq}: line ${bad.c.line} differs from another copy of the same seq and does not verify (${bad.hashOk ? 'forged' : 'edited'}).` });
    }
  }

  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  report.unique = seqs.length;
  report.first_seq = seqs[0]!;
  report.last_seq = seqs[seqs.length - 1]!;
  const entries = seqs.map((q) => bySeq.get(q)!.entry);

  // Per signal: hash and signature.
  // v1 before the first signed seq is an upgraded agent's history; v1 after it is a downgrade.
  const firstSigned = entries.find((e) => e.c.signal.v >= 2)?.c.signal.seq ?? Infinity;
  for (const e of entries) {
    const s = e.c.signal;
    const at = { seq: s.seq, line: e.c.line };
    if (e.hashOk) report.hashes_ok++;
    else problems.push({ code: 'edited', ...at, message: `seq ${s.seq} (line ${e.c.line}): hash does not match the content (edited).` });
    if (s.v < 2) {
      report.unsigned++;
      if (s.seq > firstSigned) problems.push({ code: 'unsigned', ...at, message: `seq ${s.seq} (line ${e.c.line}): v${s.v} signal without signature inside a signed chain (a downgrade: forged).` });
      else if (opts.requireSigned) problems.push({ code: 'unsigned', ...at, message: `seq ${s.seq} (line ${e.c.line}): v${s.v} signal without signature (--require-signed).` });
    } else if (e.sigOk === true) {
      report.signatures_ok++;
    } else if (e.sigOk === false) {
      if (e.hashOk) problems.push({ code: 'forged', ...at, message: `seq ${s.seq} (line ${e.c.line}): signature does not verify with key ${s.key_id} (forged, or edited and re-hashed).` });
    } else if (ring.keys.length === 0) {
      if (!noKeyReported) problems.push({ code: 'no_key', ...at, message: `no public key for ${report.site}/${report.agent}: signatures not checked; pass --key FILE (\`otsentry key --config FILE\` prints it) or capture the retained status topic too.` });
      noKeyReported = true;
    } else {
      problems.push({ code: 'unknown_key', ...at, message: `seq ${s.seq} (line ${e.c.line}): signed with key ${String(s.key_id)}, not ${ring.keys.map((k) => k.key_id).join(' or ')} (forged, or the agent's key changed).` });
    }
  }

  checkChain(entries, report, opts);
  return report;
}

/** Authentic gap events' dropped ranges and range-end hashes. */
function gapEvidence(entries: readonly Entry[]): { ranges: Array<GapRange & { by: number }>; hashes: Map<number, string> } {
  const ranges: Array<GapRange & { by: number }> = [];
  const hashes = new Map<number, string>();
  for (const e of entries) {
    const s = e.c.signal;
    if (s.rule !== GAP_RULE || !e.hashOk || e.sigOk === false) continue;
    for (const r of gapEventRanges(s)) ranges.push({ ...r, by: s.seq });
    for (const [seq, hash] of droppedHashes(s)) hashes.set(seq, hash);
  }
  // Disjoint and sorted, for binary search: overlapping ranges (a folded gap event's, repeated
  // by the one that replaced it) are joined and keep the first reporter.
  ranges.sort((a, b) => a.first - b.first);
  const disjoint: typeof ranges = [];
  for (const r of ranges) {
    const top = disjoint[disjoint.length - 1];
    if (top !== undefined && r.first <= top.last) top.last = Math.max(top.last, r.last);
    else disjoint.push({ ...r });
  }
  return { ranges: disjoint, hashes };
}

/** Index of the last range starting at or before seq (-1 if none); ranges sorted and disjoint. */
function rangeAt(ranges: readonly GapRange[], seq: number): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.first <= seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

/** Seq continuity and chain links, across gaps via the gap events' evidence. */
function checkChain(entries: readonly Entry[], report: AgentReport, opts: VerifyOptions): void {
  const problems = report.problems;
  const { ranges, hashes } = gapEvidence(entries);
  const coverOf = (seq: number) => {
    const r = ranges[rangeAt(ranges, seq)];
    return r !== undefined && seq <= r.last ? r : undefined;
  };

  /** Report the absent seqs first..last as gaps, covered or not; true when all are covered. */
  const absent = (first: number, last: number): boolean => {
    let allCovered = true;
    let q = first;
    while (q <= last) {
      const cover = coverOf(q);
      if (cover !== undefined) {
        const end = Math.min(last, cover.last);
        report.gaps.push({ first: q, last: end, covered_by: cover.by });
        q = end + 1;
        continue;
      }
      // Uncovered until the next covered seq (or the end).
      const next = ranges[rangeAt(ranges, q) + 1];
      const end = next === undefined ? last : Math.min(last, next.first - 1);
      report.gaps.push({ first: q, last: end });
      problems.push({ code: 'missing', seq: q, message: `seq ${q === end ? q : `${q}-${end}`}: missing and not reported by a gap event (removed, or not captured).` });
      allCovered = false;
      q = end + 1;
    }
    return allCovered;
  };

  /** The link of `s` to seq s-1, which was not received but is reported dropped. */
  const linkAcrossGap = (s: RiskSignal, line: number): void => {
    const recorded = hashes.get(s.seq - 1);
    if (recorded === undefined) {
      problems.push({ code: 'chain_broken', seq: s.seq, line, message: `seq ${s.seq} (line ${line}): the gap event gives no hash for the dropped seq ${s.seq - 1}, so its link cannot be checked.` });
    } else if (recorded === s.prev_hash) {
      report.links_ok++;
    } else {
      problems.push({ code: 'chain_broken', seq: s.seq, line, message: `seq ${s.seq} (line ${line}): prev_hash is not the hash the gap event gives for the dropped seq ${s.seq - 1} (chain broken).` });
    }
  };

  let prev: RiskSignal | undefined;
  for (const e of entries) {
    const s = e.c.signal;
    const line = e.c.line;
    if (prev === undefined) {
      // Before the first seq received: what --first-seq demands, else what gap events report.
      let from = s.seq;
      for (let cover = coverOf(from - 1); cover !== undefined; cover = coverOf(from - 1)) from = cover.first;
      if (opts.firstSeq !== undefined) from = opts.firstSeq;
      if (from < s.seq) {
        if (absent(from, s.seq - 1)) linkAcrossGap(s, line);
      } else if (s.seq === 1) {
        if (s.prev_hash === GENESIS_HASH) report.links_ok++;
        else problems.push({ code: 'genesis', seq: 1, line, message: `seq 1 (line ${line}): prev_hash is not the genesis hash (64 zeros).` });
      }
    } else if (s.seq === prev.seq + 1) {
      if (s.prev_hash === prev.hash) report.links_ok++;
      else problems.push({ code: 'chain_broken', seq: s.seq, line, message: `seq ${s.seq} (line ${line}): prev_hash does not match the hash of seq ${prev.seq} (chain broken: an event was replaced, reordered or inserted).` });
    } else if (absent(prev.seq + 1, s.seq - 1)) {
      linkAcrossGap(s, line);
    }
    // A seq both received and reported dropped (it was sent before retention dropped it).
    const recorded = hashes.get(s.seq);
    if (recorded !== undefined && recorded !== s.hash) {
      problems.push({ code: 'chain_broken', seq: s.seq, line, message: `seq ${s.seq} (line ${line}): its hash differs from the one a gap event gives for it.` });
    }
    prev = s;
  }
  if (prev !== undefined && opts.lastSeq !== undefined && opts.lastSeq > prev.seq) absent(prev.seq + 1, opts.lastSeq);
}
