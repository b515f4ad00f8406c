// Read mode: the tags of a poll in as few Read requests as the server allows (max_nodes_per_read
// per request), each DataValue turned into a sample, and bad statuses summed up into one error per
// status with the tags and the fix.
import type { ClientSession } from 'node-opcua';
import type { PollError, PollResult, Sample } from '../types.js';
import type { OpcuaTag } from './config.js';
import { decodeVariant, qualityOf, type VariantLike } from './decode.js';
import { asOpcuaError } from './errors.js';
import { withTimeout } from './session.js';

export interface ReadPlan {
  device: string;
  names: readonly string[];
  /** per tag: the resolved NodeId, or null when it could not be resolved (left out) */
  nodeIds: readonly (string | null)[];
  tags: readonly OpcuaTag[];
  maxNodesPerRead: number;
  timeoutMs: number;
  endpointUrl: string;
}

const VALUE = 13; // AttributeIds.Value
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Read every resolvable tag into result; returns the number of requests sent. */
export async function readTags(session: ClientSession, plan: ReadPlan, now: () => number, result: PollResult, onBadNode: (tag: number, status: string) => void, signal?: AbortSignal): Promise<number> {
  const n = plan.maxNodesPerRead;
  let sent = 0;
  for (let start = 0; start < plan.nodeIds.length; start += n) {
    if (signal?.aborted) {
      result.errors.push({ code: 'aborted', message: 'poll aborted' });
      break;
    }
    const idx: number[] = [];
    for (let i = start; i < Math.min(start + n, plan.nodeIds.length); i++) if (plan.nodeIds[i] !== null) idx.push(i);
    if (idx.length === 0) continue;
    const t0 = performance.now();
    result.requests++;
    sent++;
    try {
      // maxAge 0: the current value, not a cached one.
      const dvs = await withTimeout(session.read(idx.map((i) => ({ nodeId: plan.nodeIds[i]!, attributeId: VALUE })), 0), plan.timeoutMs, `Read of ${idx.length} nodes`);
      const ts = now();
      const rtt = round3(performance.now() - t0);
      const bad = new Map<string, string[]>();
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k];
        const dv = dvs[k];
        const q = qualityOf(dv.statusCode);
        const s: Sample = { device: plan.device, tag: plan.names[i], value: null, quality: q, ts, rtt_ms: rtt };
        if (q === 'bad') {
          s.reason = dv.statusCode.name;
          const list = bad.get(s.reason) ?? [];
          list.push(plan.names[i]);
          bad.set(s.reason, list);
          onBadNode(i, s.reason);
        } else {
          const d = decodeVariant(dv.value as VariantLike);
          s.value = d.value;
          if (d.reason) {
            s.quality = 'bad';
            s.reason = d.reason;
          } else if (q === 'uncertain') s.reason = dv.statusCode.name;
        }
        result.samples.push(s);
      }
      for (const [status, tags] of bad) result.errors.push(statusError(status, tags, plan.tags, plan.names));
    } catch (e) {
      const err = asOpcuaError(e, 'read', plan.endpointUrl);
      const ts = now();
      const rtt = round3(performance.now() - t0);
      for (const i of idx) result.samples.push({ device: plan.device, tag: plan.names[i], value: null, quality: 'bad', ts, rtt_ms: rtt, reason: err.code });
      result.errors.push(err.toPollError());
      if (err.code === 'connection_lost') break;
    }
  }
  return sent;
}

/** What a status code means for a tag, with the fix. */
export function describeStatus(status: string): string {
  switch (status) {
    case 'BadNodeIdUnknown':
      return 'BadNodeIdUnknown, the server has no such node; check node_id (browse the server for the right one)';
    case 'BadNodeIdInvalid':
      return 'BadNodeIdInvalid, the NodeId is malformed for this server; check node_id';
    case 'BadNotReadable':
    case 'BadUserAccessDenied':
      return `${status}, the server does not let this user read it; grant read access or log in as another user`;
    case 'BadAttributeIdInvalid':
      return 'BadAttributeIdInvalid, the node has no value (is it an object or a folder?); point node_id at a variable';
    default:
      return status;
  }
}

/** One error for all tags that answered the same bad status (at most five named). */
export function statusError(status: string, tags: readonly string[], cfgTags: readonly OpcuaTag[], names: readonly string[]): PollError {
  const list = tags.slice(0, 5).map((n) => `${n} (${cfgTags[names.indexOf(n)]?.node_id ?? '?'})`);
  const more = tags.length > 5 ? ` and ${tags.length - 5} more` : '';
  return { code: 'opcua_status', message: `${tags.length} tag${tags.length === 1 ? '' : 's'} answered ${describeStatus(status)}: ${list.join(', ')}${more}` };
}
