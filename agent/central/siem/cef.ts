// CEF (ArcSight Common Event Format, version 0) lines: the header with its escaping (`\` and `|`),
// the key=value extension with its escaping (`\`, `=`, CR and LF), the per-key length limits of the
// CEF extension dictionary, and a byte budget that shortens the longest fields so a line fits.

/** One CEF event before escaping. Extension values are strings or integers, in output order. */
export interface CefEvent {
  vendor: string;
  product: string;
  version: string;
  /** Device Event Class ID: the rule (signals) or `central.<code>` (findings) */
  signatureId: string;
  name: string;
  /** 0-10 */
  severity: number;
  extension: Array<[string, string | number]>;
}

/** The CEF dictionary's length limits (characters) for the keys we write; others get DEFAULT_LIMIT. */
export const KEY_LIMITS: Record<string, number> = {
  act: 63,
  cat: 1023,
  dhost: 1023,
  dvchost: 100,
  externalId: 40,
  msg: 1023,
  flexString1: 1023,
  flexString1Label: 128,
};
// cs1..cs6: 4000 in the current dictionary, 1023 in older parsers; the lower one is safe everywhere.
export const DEFAULT_LIMIT = 1023;
export const HEADER_LIMITS = { vendor: 63, product: 63, version: 31, signatureId: 1023, name: 512 } as const;

export function escapeHeader(v: string): string {
  // Header fields are one line: a newline would end the event, so it becomes a space.
  return v.replace(/[\\|]/g, (c) => '\\' + c).replace(/\r\n|[\r\n]/g, ' ');
}

export function escapeExtension(v: string): string {
  return v.replace(/[\\=]/g, (c) => '\\' + c).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** Keys are fixed names from the dictionary: letters and digits only, so they need no escaping. */
const KEY = /^[A-Za-z][A-Za-z0-9]*$/;

/** Shorten to at most `max` characters without splitting a surrogate pair; the cut ends with `…`. */
export function truncate(v: string, max: number): string {
  if (v.length <= max) return v;
  let cut = max - 1;
  const code = v.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--; // high surrogate whose low half would be cut off
  return v.slice(0, Math.max(0, cut)) + '…';
}

function clampSeverity(n: number): number {
  return Math.min(10, Math.max(0, Math.round(n)));
}

export function limitOf(key: string): number {
  return KEY_LIMITS[key] ?? DEFAULT_LIMIT;
}

export function formatCef(e: CefEvent): string {
  const header = [
    'CEF:0',
    escapeHeader(truncate(e.vendor, HEADER_LIMITS.vendor)),
    escapeHeader(truncate(e.product, HEADER_LIMITS.product)),
    escapeHeader(truncate(e.version, HEADER_LIMITS.version)),
    escapeHeader(truncate(e.signatureId, HEADER_LIMITS.signatureId)),
    escapeHeader(truncate(e.name, HEADER_LIMITS.name)),
    String(clampSeverity(e.severity)),
  ].join('|');
  const ext = e.extension.map(([k, v]) => {
    if (!KEY.test(k)) throw new Error(`CEF extension key ${JSON.stringify(k)} is not a dictionary key`);
    return `${k}=${typeof v === 'number' ? String(v) : escapeExtension(truncate(v, limitOf(k)))}`;
  });
  return `${header}|${ext.join(' ')}`;
}

/**
 * The event as a CEF line of at most `maxBytes` UTF-8 bytes: while it is too long, the longest
 * string field among `shrinkable` is halved (it ends with `…`). Fields not listed are never cut.
 */
export function formatCefWithin(e: CefEvent, maxBytes: number, shrinkable: ReadonlySet<string>): string {
  let line = formatCef(e);
  if (Buffer.byteLength(line) <= maxBytes) return line;
  const ext = e.extension.map(([k, v]): [string, string | number] => [k, typeof v === 'string' ? truncate(v, limitOf(k)) : v]);
  let name = e.name;
  for (;;) {
    let longest = -1;
    for (let i = 0; i < ext.length; i++) {
      const [k, v] = ext[i]!;
      if (typeof v === 'string' && shrinkable.has(k) && v.length > 16 && (longest < 0 || v.length > (ext[longest]![1] as string).length)) longest = i;
    }
    if (longest < 0) {
      if (name.length <= 16) return line; // nothing left to shorten: the collector may cut the end
      name = truncate(name, Math.floor(name.length / 2));
    } else {
      const [k, v] = ext[longest]!;
      ext[longest] = [k, truncate(v as string, Math.floor((v as string).length / 2))];
    }
    line = formatCef({ ...e, name, extension: ext });
    if (Buffer.byteLength(line) <= maxBytes) return line;
  }
}
