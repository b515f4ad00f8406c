// Small HTTP helpers of the console on node:http: JSON bodies with a size limit, JSON answers with
// the security headers every answer carries, cookies, and the static files of static/.
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../../protocols/package.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Headers on every answer: no framing, no sniffing, scripts and styles only from the console itself. */
export function securityHeaders(tls: boolean): Record<string, string> {
  const h: Record<string, string> = {
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
  if (tls) h['Strict-Transport-Security'] = 'max-age=31536000';
  return h;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!(k in out)) out[k] = part.slice(i + 1).trim();
  }
  return out;
}

/** The JSON object in a request body (application/json, at most maxBytes). */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // Only JSON: a cross-site HTML form cannot send it without a CORS preflight, which we never grant.
  if (type !== 'application/json') throw new HttpError(415, 'send Content-Type: application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `request body over ${maxBytes} bytes`);
    chunks.push(c as Buffer);
  }
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The folder of the console's HTML/JS/CSS. tsc does not copy them to dist/, so from
 * dist/agent/central/console/ they are found in the package's agent/central/console/static/
 * (shipped with the package); from the sources (tests) they sit beside this file.
 */
export function staticDir(moduleUrl: string = import.meta.url): string {
  const here = path.join(path.dirname(fileURLToPath(moduleUrl)), 'static');
  if (fs.existsSync(path.join(here, 'index.html'))) return here;
  let root: string;
  try {
    root = packageRoot();
  } catch {
    root = path.resolve(path.dirname(fileURLToPath(moduleUrl)), '../../../..');
  }
  const fromRoot = path.join(root, 'agent', 'central', 'console', 'static');
  if (fs.existsSync(path.join(fromRoot, 'index.html'))) return fromRoot;
  throw new Error(`otsentry installation is incomplete: the console's static files are in neither ${here} nor ${fromRoot}`);
}

/** The static files, read once at start (a handful of small files): name -> body and type. */
export function loadStatic(dir: string): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(name, { body: fs.readFileSync(path.join(dir, name)), type });
  }
  return files;
}
