// One received event judged on its own, as `otsentry verify` judges each signal (check.ts): size,
// JSON, the signal schema, the topic it came on, the agent's pinned key, the hash, the signature.
// The answer is a signal to store or a refusal with its finding; duplicates, replays, seq
// conflicts and the chain need the store and are judged by the pipeline afterwards.
import { riskSignalSchema } from '../../rules/signal-schema.js';
import type { RiskSignal } from '../../rules/signal.js';
import { formatPath } from '../../protocols/problems.js';
import { checkSignal } from '../verify/check.js';
import type { AgentState } from './agents.js';
import type { VerifyConfig } from './config/schema.js';
import { clip, type FindingDraft } from './findings.js';
import type { SigJob } from './sigpool.js';
import type { SignalVerdict } from './store/types.js';

export type Judged =
  | { kind: 'accept'; signal: RiskSignal; payload: string; verdict: SignalVerdict }
  | { kind: 'refuse'; finding: FindingDraft }
  /** the agent has no pinned key yet: wait for its status/assets (verify.key_wait_secs) */
  | { kind: 'hold'; signal: RiskSignal; payload: string };

export interface Parsed {
  signal: RiskSignal;
  payload: string;
}

/** Size, JSON, schema and topic; a refusal when any fails. */
export function parseEvent(topic: string, site: string, agent: string, payload: Buffer, cfg: VerifyConfig): Parsed | { finding: FindingDraft } {
  const who = { site, agent };
  if (payload.length > cfg.max_payload_bytes) {
    return { finding: { code: 'oversized', ...who, message: `event on ${topic} is ${payload.length} bytes, over verify.max_payload_bytes ${cfg.max_payload_bytes}; refused (an agent's signal is a few hundred bytes).`, evidence: { topic, bytes: payload.length, head: clip(payload.subarray(0, 512).toString('utf8')) } } };
  }
  const text = payload.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { finding: { code: 'malformed', ...who, message: `event on ${topic} is not JSON (${(e as Error).message}); refused.`, evidence: { topic, payload: clip(text) } } };
  }
  const parsed = riskSignalSchema.safeParse(value);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const seq = (value as { seq?: unknown } | null)?.seq;
    return { finding: { code: 'malformed', ...who, seq: Number.isSafeInteger(seq) ? (seq as number) : undefined, message: `event on ${topic} is not a risk signal (${formatPath(i.path) || '(root)'}: ${i.message}); refused.`, evidence: { topic, payload: clip(text) } } };
  }
  const signal = value as RiskSignal;
  if (signal.site !== site || signal.agent !== agent) {
    return { finding: { code: 'malformed', ...who, seq: signal.seq, message: `event on ${topic} names ${signal.site}/${signal.agent}; an agent publishes only on its own topic; refused.`, evidence: { topic, payload: clip(text) } } };
  }
  return { signal, payload: text };
}

/** The signature check a parsed signal needs (for the worker threads), or undefined when none can be made. */
export function sigJobFor(p: Parsed, st: AgentState | undefined): SigJob | undefined {
  const s = p.signal;
  const pinned = st?.rec.pinned;
  if (s.v < 2 || st?.key === undefined || pinned === undefined || s.key_id !== pinned.key_id || typeof s.sig !== 'string') return undefined;
  return { hash: s.hash, sig: s.sig, key_id: pinned.key_id, pem: pinned.public_key, key: st.key };
}

/**
 * Key, hash and signature of a parsed signal, given what central knows of its agent;
 * `sigOk` is the verdict of its sigJobFor check when that was made already.
 */
export function judgeSignal(p: Parsed, st: AgentState | undefined, topic: string, cfg: VerifyConfig, sigOk?: boolean): Judged {
  const s = p.signal;
  const who = { site: s.site, agent: s.agent, seq: s.seq };
  const evidence = { topic, id: s.id, payload: clip(p.payload) };
  const refuse = (code: FindingDraft['code'], message: string, extra: Record<string, unknown> = {}): Judged => ({ kind: 'refuse', finding: { code, ...who, message, evidence: { ...evidence, ...extra } } });
  const name = `${s.site}/${s.agent} seq ${s.seq}`;
  if (s.v < 2) {
    if (cfg.require_signed) return refuse('unsigned', `${name}: v${s.v} signal without signature; verify.require_signed refuses it (upgrade the agent, or set require_signed: false for a fleet of unsigned v1 agents).`);
    if (st?.key !== undefined) return refuse('unsigned', `${name}: unsigned v${s.v} signal from an agent whose key ${st.rec.pinned!.key_id} is pinned (a downgrade: forged); refused.`);
    const { hashOk } = checkSignal(s, () => undefined);
    if (!hashOk) return refuse('edited', `${name}: hash does not match the content (edited after it was sealed); refused.`);
    return { kind: 'accept', signal: s, payload: p.payload, verdict: 'unsigned' };
  }
  if (st?.key === undefined) return { kind: 'hold', signal: s, payload: p.payload };
  const pinned = st.rec.pinned!;
  const { hashOk, sigOk: sigVerdict } = checkSignal(s, (id) => (id === pinned.key_id ? st.key : undefined), sigOk);
  if (!hashOk) return refuse('edited', `${name}: hash does not match the content (edited after it was sealed); refused.`);
  if (sigVerdict === undefined) {
    if (s.key_id === st.rec.pending?.key_id) {
      return refuse('key_changed', `${name}: signed with key ${s.key_id}, which the agent announced but is not pinned (${pinned.key_id} is); refused until \`otsentry central keys accept ${s.site}/${s.agent} --key-id ${s.key_id}\`.`, { key_id: s.key_id, pinned_key_id: pinned.key_id });
    }
    return refuse('forged', `${name}: signed with key ${String(s.key_id)}, not the agent's pinned key ${pinned.key_id} (forged); refused.`, { key_id: s.key_id, pinned_key_id: pinned.key_id });
  }
  if (!sigVerdict) return refuse('bad_signature', `${name}: the signature does not verify with the pinned key ${pinned.key_id} (forged, or edited and re-hashed); refused.`, { key_id: s.key_id });
  return { kind: 'accept', signal: s, payload: p.payload, verdict: 'verified' };
}
