// Opening a TCP connection for the native link (stream-link.ts): Modbus TCP (MBAP framing) or RTU
// frames over TCP, as serial-to-Ethernet gateways in transparent mode expect.
import net from 'node:net';
import { watchAbort } from './abort.js';
import { ModbusError, asModbusError } from './errors.js';
import type { LinkOptions } from './link.js';
import { StreamLink, type Framing, type OpenStream } from './stream-link.js';

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
    openStream: (signal) => connectTcp(opts.host, opts.port, opts.timeoutMs, signal),
  });
}

/** Connect within timeoutMs; rejects with ModbusError connect_refused, timeout or aborted. */
function connectTcp(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<OpenStream> {
  return new Promise<OpenStream>((resolve, reject) => {
    if (signal?.aborted) return reject(new ModbusError('aborted', `connecting to ${host}:${port} was aborted`));
    const s = net.connect({ host, port });
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
      resolve({ stream: s });
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
