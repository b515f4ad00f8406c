// Opening a TCP connection for the native link (stream-link.ts): Modbus TCP (MBAP framing) or RTU
// frames over TCP, as serial-to-Ethernet gateways in transparent mode expect.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { watchAbort } from './abort.js';
import { ModbusError, asModbusError } from './errors.js';
import type { LinkOptions } from './link.js';
import { MAX_FRAME_BYTES, StreamLink, type Framing, type OpenStream } from './stream-link.js';

export interface TcpLinkOptions extends LinkOptions {
  host: string;
  port: number;
  framing: Framing;
  lastTransactionId?: number;
}

export function tcpLink(opts: TcpLinkOptions): StreamLink {
  return new StreamLink({
    ...opts,
    describe: `${opts.framing === 'mbap' ? 'tcp' : 'rtu_over_tcp'} ${opts.host}:${opts.port}`,
    openStream: (signal, receive) => connectTcp(opts.host, opts.port, opts.timeoutMs, receive, signal),
  });
}

/** Bytes one socket read takes at most: a few answers (a late one and the expected one) fit. */
const RECEIVE_BYTES = 4 * MAX_FRAME_BYTES;

/**
 * Connect within timeoutMs; rejects with ModbusError connect_refused, timeout or aborted. The
 * socket reads into one buffer of its own and hands each chunk to receive (Node's `onread`):
 * per answer no buffer is allocated and no stream events run, which showed at 1,000 answers/s.
 */
function connectTcp(host: string, port: number, timeoutMs: number, receive: (chunk: Buffer, from: Duplex) => void, signal?: AbortSignal): Promise<OpenStream> {
  return new Promise<OpenStream>((resolve, reject) => {
    if (signal?.aborted) return reject(new ModbusError('aborted', `connecting to ${host}:${port} was aborted`));
    const buffer = Buffer.allocUnsafe(RECEIVE_BYTES);
    const s: net.Socket = net.connect({
      host,
      port,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          receive((buf as Buffer).subarray(0, n), s);
          return true;
        },
      },
    });
    let settled = false;
    const finish = (err?: ModbusError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unwatch();
      s.removeListener('error', onError);
      if (err) {
        s.on('error', () => undefined); // a late error of the abandoned socket must not crash
        s.destroy();
        reject(err);
        return;
      }
      s.setNoDelay(true);
      s.setKeepAlive(true, 10_000);
      resolve({ stream: s, delivers: true });
    };
    const onError = (e: Error): void => {
      const err = asModbusError(e);
      const code = err.code === 'unknown' || err.code === 'connection_lost' ? 'connect_refused' : err.code;
      finish(new ModbusError(code, `cannot connect to ${host}:${port}: ${err.message}`));
    };
    const timer = setTimeout(() => finish(new ModbusError('timeout', `no TCP connection to ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const unwatch = watchAbort(signal, () => finish(new ModbusError('aborted', `connecting to ${host}:${port} was aborted`)));
    s.once('error', onError);
    s.once('connect', () => finish());
  });
}
