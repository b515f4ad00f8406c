// The operator's side of key pinning (`otsentry central keys list|accept`): central pins an
// agent's key on first sight and refuses signals signed with any other; a new key (agent
// reinstalled, key lost) is accepted only here, after the operator compared its key id with the
// one `otsentry key --config FILE` prints on the gateway. Running central processes pick the
// change up within a sweep.
import fs from 'node:fs';
import { keyIdOf, parsePublicKey } from '../signing/keys.js';
import type { AgentKey, AgentRecord, CentralStore } from './store/types.js';
import { OperationalError } from '../../protocols/errors.js';

export class KeyCommandError extends OperationalError {
  constructor(message: string) {
    super('central_keys', message, 'central');
  }
}

export interface AcceptOptions {
  /** the key id the operator confirmed: must be the announced (pending) key's */
  keyId?: string;
  /** pin the public key in this PEM file instead (before first sight, or to replace a pending one) */
  keyFile?: string;
  /** who accepts (recorded as pinned_by) */
  by: string;
  now: number;
}

export function parseAgentRef(ref: string): { site: string; agent: string } {
  const m = /^([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)$/.exec(ref);
  if (!m) throw new KeyCommandError(`'${ref}' is not SITE/AGENT (e.g. plant-a/gw-1); \`otsentry central keys list\` shows them.`);
  return { site: m[1]!, agent: m[2]! };
}

/** Pin a key for an agent; returns the key pinned. */
export async function acceptKey(store: CentralStore, ref: string, o: AcceptOptions): Promise<{ rec?: AgentRecord; key: AgentKey; previous?: string }> {
  const { site, agent } = parseAgentRef(ref);
  const rec = await store.getAgent(site, agent);
  let key: AgentKey;
  if (o.keyFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(o.keyFile, 'utf8');
    } catch (e) {
      throw new KeyCommandError(`--key ${o.keyFile} cannot be read (${(e as NodeJS.ErrnoException).code}); give the public key PEM that \`otsentry key --config FILE\` prints on the gateway.`);
    }
    const pub = parsePublicKey(text, `--key ${o.keyFile}`);
    key = { key_id: keyIdOf(pub), public_key: pub.export({ format: 'pem', type: 'spki' }).toString() };
    if (o.keyId !== undefined && o.keyId !== key.key_id) throw new KeyCommandError(`--key ${o.keyFile} has key id ${key.key_id}, not ${o.keyId}; check which key you mean.`);
  } else {
    if (rec?.pending === undefined) {
      const pinned = rec?.pinned ? `its pinned key is ${rec.pinned.key_id}` : rec ? 'no key is pinned yet' : 'central has never seen it';
      throw new KeyCommandError(`${site}/${agent} announced no new key (${pinned}); to pin a key yourself give --key FILE.`);
    }
    if (o.keyId === undefined) throw new KeyCommandError(`${site}/${agent} announces key ${rec.pending.key_id}; compare it with \`otsentry key --config FILE\` on the gateway, then run again with --key-id ${rec.pending.key_id}.`);
    if (o.keyId !== rec.pending.key_id) throw new KeyCommandError(`${site}/${agent} announces key ${rec.pending.key_id}, not ${o.keyId}; nothing changed.`);
    key = { key_id: rec.pending.key_id, public_key: rec.pending.public_key };
  }
  await store.acceptKey(site, agent, key, o.by, o.now);
  return { rec, key, previous: rec?.pinned?.key_id };
}

/** One line per agent: pinned key, announced key waiting for an operator, status, chain. */
export function formatKeys(agents: readonly AgentRecord[]): string {
  if (agents.length === 0) return 'no agents seen yet\n';
  const rows = agents.map((a) => [
    `${a.site}/${a.agent}`,
    a.pinned ? `${a.pinned.key_id} (${new Date(a.pinned.pinned_ms).toISOString()}, ${a.pinned.pinned_by})` : '-',
    a.pending ? `${a.pending.key_id} WAITING: otsentry central keys accept ${a.site}/${a.agent} --key-id ${a.pending.key_id}` : '-',
    a.status_state ?? '-',
    `${a.chain_state} to seq ${a.chain_seq}`,
  ]);
  const head = ['agent', 'pinned key', 'announced key', 'status', 'chain'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join('  ')).join('\n') + '\n';
}
