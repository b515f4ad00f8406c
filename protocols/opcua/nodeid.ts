// OPC UA NodeId strings of the config, parsed without node-opcua: `i=85`, `ns=2;s=Tank.Level`,
// `nsu=urn:plant:tank;i=1001`, `ns=3;g=<guid>`, `ns=1;b=<base64>`. A namespace given by URI is
// resolved to the server's index when connecting (indexes may change when a server is rebuilt).

export type NodeIdKind = 'i' | 's' | 'g' | 'b';

export interface ParsedNodeId {
  /** namespace index, when given as ns=N (0 when neither ns nor nsu is given) */
  ns?: number;
  /** namespace URI, when given as nsu=URI */
  nsu?: string;
  kind: NodeIdKind;
  id: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parse a NodeId string; throws an Error whose message says what is wrong and shows the forms. */
export function parseNodeId(text: string): ParsedNodeId {
  const hint = 'use i=NUMBER, s=NAME, g=GUID or b=BASE64, optionally after ns=INDEX; or nsu=NAMESPACE_URI; (e.g. ns=2;s=Tank.Level)';
  let rest = text.trim();
  const out: Partial<ParsedNodeId> = {};
  const prefix = /^(ns|nsu)=([^;]*);/.exec(rest);
  if (prefix) {
    if (prefix[1] === 'ns') {
      if (!/^\d+$/.test(prefix[2]) || Number(prefix[2]) > 65535) throw new Error(`'${text}': ns must be a namespace index 0..65535; ${hint}`);
      out.ns = Number(prefix[2]);
    } else {
      if (prefix[2] === '') throw new Error(`'${text}': nsu needs a namespace URI; ${hint}`);
      out.nsu = prefix[2];
    }
    rest = rest.slice(prefix[0].length);
  }
  const m = /^([isgb])=(.*)$/s.exec(rest);
  if (!m) throw new Error(`'${text}' is not a NodeId; ${hint}`);
  const kind = m[1] as NodeIdKind;
  const id = m[2];
  if (kind === 'i' && (!/^\d+$/.test(id) || Number(id) > 0xffffffff)) throw new Error(`'${text}': a numeric id must be a whole number 0..4294967295`);
  if (kind === 's' && id.length === 0) throw new Error(`'${text}': a string id must not be empty`);
  if (kind === 'g' && !GUID.test(id)) throw new Error(`'${text}': a GUID id looks like 72962b91-fa75-4ae6-8d28-b404dc7daf63`);
  if (kind === 'b' && !BASE64.test(id)) throw new Error(`'${text}': an opaque id must be base64`);
  return { ...out, kind, id };
}

/** The NodeId with a namespace index, in the form node-opcua reads (`ns=2;s=Tank.Level`). */
export function nodeIdWithIndex(n: ParsedNodeId, index: number): string {
  return index === 0 ? `${n.kind}=${n.id}` : `ns=${index};${n.kind}=${n.id}`;
}

/**
 * Resolve a parsed NodeId against the server's NamespaceArray; returns the node-opcua string or
 * an error message naming the missing URI and the ones the server has.
 */
export function resolveNodeId(n: ParsedNodeId, namespaces: readonly string[]): { nodeId: string } | { error: string } {
  if (n.nsu === undefined) return { nodeId: nodeIdWithIndex(n, n.ns ?? 0) };
  const index = namespaces.indexOf(n.nsu);
  if (index < 0) return { error: `namespace ${n.nsu} is not on the server (it has: ${namespaces.join(', ') || 'none'})` };
  return { nodeId: nodeIdWithIndex(n, index) };
}
