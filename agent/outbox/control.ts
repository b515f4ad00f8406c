// The outbox control channel: the daemon holds the outbox file in exclusive locking mode, so an
// operator's `otsentry outbox ...` cannot open it while the agent runs. The daemon serves a unix
// socket `{data_dir}/control.sock` (mode 0600, the data_dir is the agent's own) and the CLI asks
// it; when nobody answers there, the CLI opens the file itself (OutboxAccess below).
// Protocol: one JSON request line, one JSON answer line, then the daemon closes the connection.
//   {op:'refused', limit, after} | {op:'entries', limit, after, refused} | {op:'retry', seqs?}
//   → {ok:true, result} | {ok:false, error:{code, message}}
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../../protocols/log.js';
import { OutboxError, type Outbox, type OutboxEntry, type RefusedEntry } from './types.js';
import { OperationalError } from '../../protocols/errors.js';

export function controlSocketPath(dataDir: string): string {
  return path.join(dataDir, 'control.sock');
}

type Request = { op: 'refused'; limit: number; after: number } | { op: 'entries'; limit: number; after: number; refused: boolean } | { op: 'retry'; seqs?: number[] };

/** What an outbox command needs, from the running agent or from the file. */
export interface OutboxAccess {
  /** 'agent' when a running agent answered on its control socket, 'file' when opened directly */
  via: 'agent' | 'file';
  refused(limit: number, after: number): Promise<RefusedEntry[]>;
  entries(limit: number, after: number, refused: boolean): Promise<OutboxEntry[]>;
  retry(seqs?: number[]): Promise<number[]>;
  close(): void;
}

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

/** Largest request accepted; requests are a few hundred bytes. */
const MAX_REQUEST = 1 << 20;

/**
 * Serve the outbox on {dataDir}/control.sock. `onRetry` is told which seqs are pending again
 * (the forwarder resends them). Call only once the outbox is open: its exclusive lock proves
 * that no other agent uses this data_dir, so a socket file left by a killed agent is removed.
 */
export async function startControlServer(dataDir: string, outbox: Outbox, onRetry: (seqs: number[]) => void, log: Logger, extra: ControlHandlers = {}): Promise<ControlServer> {
  const file = controlSocketPath(dataDir);
  fs.rmSync(file, { force: true });
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return void sock.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.end(JSON.stringify(answer(buf.slice(0, nl), outbox, onRetry, extra)) + '\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(file, 0o600);
  log.debug({ socket: file }, 'Serving outbox commands.');
  return {
    path: file,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fs.rmSync(file, { force: true });
      }),
  };
}

function answer(line: string, outbox: Outbox, onRetry: (seqs: number[]) => void, extra: ControlHandlers): unknown {
  try {
    const req = JSON.parse(line) as Request;
    const own = typeof req.op === 'string' && Object.hasOwn(extra, req.op) ? extra[req.op] : undefined;
    if (own) return { ok: true, result: own(req as unknown as Record<string, unknown>) };
    if (req.op === 'refused') return { ok: true, result: outbox.refused(req.limit, req.after) };
    if (req.op === 'entries') return { ok: true, result: outbox.entries(req.limit, req.after, req.refused) };
    if (req.op === 'retry') {
      const seqs = outbox.retry(req.seqs);
      onRetry(seqs);
      return { ok: true, result: seqs };
    }
    return { ok: false, error: { code: 'control_request', message: `unknown request ${JSON.stringify((req as { op?: unknown }).op)}` } };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { ok: false, error: { code: err instanceof OutboxError ? err.code : 'control_request', message: err.message } };
  }
}

/** More requests served on the same socket by other stages (alerts, rules reload), by op. */
export type ControlHandlers = Record<string, (req: Record<string, unknown>) => unknown>;

/** Ask the running agent one request; undefined when no agent answers on its socket. */
export async function askControl<T>(dataDir: string, req: { op: string } & Record<string, unknown>): Promise<T | undefined> {
  const file = controlSocketPath(dataDir);
  if (!(await socketAlive(file))) return undefined;
  return request<T>(file, req as unknown as Request);
}

function socketAlive(file: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Ask the running agent; undefined when no agent answers on the socket (not running). */
export async function connectControl(dataDir: string): Promise<OutboxAccess | undefined> {
  const file = controlSocketPath(dataDir);
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    // ENOENT: no agent; ECONNREFUSED: a socket file left by a killed agent.
    s.once('error', () => resolve(false));
  });
  if (!alive) return undefined;
  const ask = <T>(req: Request): Promise<T> => request<T>(file, req);
  return {
    via: 'agent',
    refused: (limit, after) => ask({ op: 'refused', limit, after }),
    entries: (limit, after, refused) => ask({ op: 'entries', limit, after, refused }),
    retry: (seqs) => ask({ op: 'retry', seqs }),
    close: () => undefined,
  };
}

function request<T>(file: string, req: Request): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const s = net.connect(file);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (chunk: string) => (buf += chunk));
    s.on('error', (e: NodeJS.ErrnoException) =>
      reject(new OperationalError('control_socket', `the running agent's control socket ${file} failed (${e.code ?? e.message}); try again, or stop the agent and retry`, 'outbox')),
    );
    s.on('end', () => {
      try {
        const res = JSON.parse(buf) as { ok: true; result: T } | { ok: false; error: { code: string; message: string } };
        if (res.ok) resolve(res.result);
        else reject(new OperationalError(res.error.code, res.error.message, 'outbox'));
      } catch {
        reject(new OperationalError('control_socket', `the running agent's control socket ${file} gave no answer; check the agent log`, 'outbox'));
      }
    });
  });
}

/** Direct access to the outbox file (agent stopped). */
export function fileAccess(outbox: Outbox): OutboxAccess {
  return {
    via: 'file',
    refused: async (limit, after) => outbox.refused(limit, after),
    entries: async (limit, after, refused) => outbox.entries(limit, after, refused),
    retry: async (seqs) => outbox.retry(seqs),
    close: () => outbox.close(),
  };
}
