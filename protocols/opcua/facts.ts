// Facts of an OPC UA server: identity (BuildInfo and the server certificate), posture (the
// endpoints it offers, its certificate, its clock) and diagnostics (ServerDiagnosticsSummary).
// The data shapes are what rules/identity.ts and rules/posture.ts read.
import type { ClientSession, EndpointDescription } from 'node-opcua';
import { factString, MAX_VALUE_CHARS, plainValue, snakeNumbers, type VariantLike } from './decode.js';
import { DEPRECATED_POLICIES } from './config.js';
import { certificateInfo, firstCertificate } from './pki.js';
import { summarizeEndpoints, withTimeout } from './session.js';

/** Standard nodes of the Server object (namespace 0). */
export const SERVER_NODES = {
  NamespaceArray: 'i=2255',
  StartTime: 'i=2257',
  CurrentTime: 'i=2258',
  State: 'i=2259',
  ProductName: 'i=2261',
  ProductUri: 'i=2262',
  ManufacturerName: 'i=2263',
  SoftwareVersion: 'i=2264',
  BuildNumber: 'i=2265',
  BuildDate: 'i=2266',
  DiagnosticsSummary: 'i=2275',
} as const;

const VALUE = 13; // AttributeIds.Value
/** Namespace indexes are UInt16: more entries than that cannot be addressed. */
const MAX_NAMESPACES = 65_536;
/** Endpoints kept in a posture fact, after merging those alike but for their URL. */
const MAX_POSTURE_ENDPOINTS = 64;

async function readValues(session: ClientSession, nodes: readonly string[], timeoutMs: number): Promise<{ value: VariantLike; ok: boolean }[]> {
  const res = await withTimeout(session.read(nodes.map((nodeId) => ({ nodeId, attributeId: VALUE }))), timeoutMs, 'server information read');
  return res.map((dv) => ({ value: dv.value as VariantLike, ok: dv.statusCode.value >>> 30 === 0 }));
}

export async function readNamespaces(session: ClientSession, timeoutMs: number): Promise<string[]> {
  const [ns] = await readValues(session, [SERVER_NODES.NamespaceArray], timeoutMs);
  if (!ns.ok || !Array.isArray(ns.value.value)) return [];
  // An overlong URI matches no configured one; it keeps its place so the indexes stay right.
  return (ns.value.value as unknown[]).slice(0, MAX_NAMESPACES).map((u) => (typeof u === 'string' && u.length <= MAX_VALUE_CHARS ? u : ''));
}

/** The certificate fields the identity and posture facts share. */
export function certificateFields(cert: Buffer | null | undefined): Record<string, string | null> {
  const info = cert && cert.length > 0 ? certificateInfo(firstCertificate(cert)) : null;
  return {
    cert_thumbprint: info?.thumbprint ?? null,
    cert_subject: info ? factString(info.subject) : null,
    cert_issuer: info ? factString(info.issuer) : null,
    cert_not_before: info?.not_before ?? null,
    cert_not_after: info?.not_after ?? null,
  };
}

/**
 * Identity: BuildInfo mapped onto the identity detector's fields (vendor = ManufacturerName,
 * product_code = ProductUri, revision = SoftwareVersion, product_name = ProductName), the
 * BuildInfo fields under their own names, and the server certificate.
 */
export async function readIdentity(session: ClientSession, cert: Buffer | null, applicationUri: string | null, timeoutMs: number): Promise<Record<string, unknown>> {
  const n = SERVER_NODES;
  const v = await readValues(session, [n.ManufacturerName, n.ProductUri, n.SoftwareVersion, n.ProductName, n.BuildNumber, n.BuildDate], timeoutMs);
  const str = (i: number) => (v[i].ok ? (plainValue(v[i].value) as string | null) : null);
  return {
    vendor: str(0),
    product_code: str(1),
    revision: str(2),
    product_name: str(3),
    build_number: str(4),
    build_date: str(5),
    manufacturer_name: str(0),
    product_uri: str(1),
    software_version: str(2),
    application_uri: applicationUri === null ? null : factString(applicationUri),
    ...certificateFields(cert),
  };
}

export interface ClockReading {
  server_time: string | null;
  /** server clock minus agent clock, corrected by half the round trip; null when unknown */
  clock_offset_ms: number | null;
  clock_rtt_ms: number | null;
}

/** Read ServerStatus.CurrentTime and compare it with the agent's clock. */
export async function readClock(session: ClientSession, now: () => number, timeoutMs: number): Promise<ClockReading> {
  const t0 = now();
  const [t] = await readValues(session, [SERVER_NODES.CurrentTime], timeoutMs);
  const t1 = now();
  const d = t.value.value;
  if (!t.ok || !(d instanceof Date) || !Number.isFinite(d.getTime())) return { server_time: null, clock_offset_ms: null, clock_rtt_ms: null };
  return { server_time: d.toISOString(), clock_offset_ms: Math.round(d.getTime() - (t0 + t1) / 2), clock_rtt_ms: t1 - t0 };
}

export interface PostureInput {
  endpointUrl: string;
  endpoints: readonly EndpointDescription[];
  clock: ClockReading | null;
  /** open: the agent has a session; refused: the server answers but refuses it (the reason says why) */
  session: 'open' | 'refused';
  refusal?: string;
  /** the policy and mode the agent uses */
  policy: string;
  mode: string;
}

/** Posture: what the server offers (policies, modes, user tokens), its certificate and clock. */
export function postureData(p: PostureInput): Record<string, unknown> {
  const all = summarizeEndpoints(p.endpoints);
  const cert = p.endpoints.find((e) => e.serverCertificate && e.serverCertificate.length > 0)?.serverCertificate ?? null;
  const policies = [...new Set(all.map((e) => e.security_policy))];
  const modes = [...new Set(all.map((e) => e.security_mode))];
  // Bounded: endpoints alike but for their URL are one, the weakest go first (what the posture
  // detector looks for is never cut off by a flood of others), and beyond MAX_POSTURE_ENDPOINTS the
  // rest are counted. The anonymous summary still sees every endpoint.
  const seen = new Map<string, (typeof all)[number]>();
  for (const e of all) {
    const key = `${e.security_policy}|${e.security_mode}|${e.user_tokens.join()}`;
    if (!seen.has(key)) seen.set(key, e);
  }
  const weak = (e: (typeof all)[number]) => e.security_mode === 'None' || e.security_policy === 'None' || (DEPRECATED_POLICIES as readonly string[]).includes(e.security_policy) || e.user_tokens.includes('anonymous');
  const distinct = [...seen.values()];
  const endpoints = [...distinct.filter(weak), ...distinct.filter((e) => !weak(e))].slice(0, MAX_POSTURE_ENDPOINTS);
  return {
    endpoint_url: p.endpointUrl,
    endpoints,
    ...(endpoints.length < all.length ? { endpoints_total: all.length } : {}),
    security_policies: policies.slice(0, MAX_POSTURE_ENDPOINTS),
    security_modes: modes,
    anonymous: all.some((e) => e.user_tokens.includes('anonymous')),
    ...certificateFields(cert),
    server_time: p.clock?.server_time ?? null,
    clock_offset_ms: p.clock?.clock_offset_ms ?? null,
    session: p.session,
    ...(p.refusal ? { refusal: p.refusal } : {}),
    agent_policy: p.policy,
    agent_mode: p.mode,
  };
}

/** ServerDiagnosticsSummary as snake_case counters (current_session_count, security_rejected_session_count, ...). */
export async function readDiagnostics(session: ClientSession, timeoutMs: number): Promise<Record<string, number> | null> {
  const [d] = await readValues(session, [SERVER_NODES.DiagnosticsSummary], timeoutMs);
  return d.ok ? snakeNumbers(d.value.value) : null;
}
