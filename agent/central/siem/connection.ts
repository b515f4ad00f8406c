// One TCP or TLS connection to a syslog collector: connect with a timeout, write a batch and learn
// when it was flushed to the kernel, notice the peer closing, and end gracefully (our FIN, then
// the peer's: the peer read everything we wrote before it closed its side).
import net from 'node:net';
import tls from 'node:tls';
import { SiemError } from './errors.js';

export interface ConnectOptions {
  host: string;
  port: number;
  /** TLS options (ca, cert, key, servername, rejectUnauthorized); absent: plain TCP */
  tls?: tls.ConnectionOptions;
  timeout_ms: number;
}

export class SyslogConnection {
  private closedWith?: Error;
  private closed = false;
  private peerEnded = false;
  private readonly closeWaiters: Array<() => void> = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('error', (e) => (this.closedWith ??= e));
    // A collector sends nothing; data would be an error text (some answer a bad frame).
    socket.on('data', () => undefined);
    socket.on('end', () => {
      this.peerEnded = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.closedWith ??= new SiemError('the collector closed the connection', 'connection_closed');
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  /** `signal` aborts a connection attempt (the output stops while a collector does not answer). */
  static connect(o: ConnectOptions, signal?: AbortSignal): Promise<SyslogConnection> {
    return new Promise((resolve, reject) => {
      const socket = o.tls ? tls.connect({ host: o.host, port: o.port, ...o.tls }) : net.connect({ host: o.host, port: o.port });
      const timer = setTimeout(() => socket.destroy(new SiemError(`no connection within ${o.timeout_ms} ms; check host, port and firewall, or raise connect_timeout_ms`, 'connect_timeout')), o.timeout_ms);
      const abort = () => socket.destroy(new SiemError('stopped while connecting', 'stopped'));
      const fail = (e: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        socket.destroy();
        reject(e);
      };
      socket.once('error', fail);
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
      socket.once(o.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        socket.off('error', fail);
        socket.setNoDelay(true);
        // Keepalive probes find a collector that vanished without a FIN (power cut, partition).
        socket.setKeepAlive(true, 10_000);
        resolve(new SyslogConnection(socket));
      });
    });
  }

  /** Why the connection is unusable, or undefined while it is up. */
  get failure(): Error | undefined {
    return this.closed || this.peerEnded ? (this.closedWith ?? new SiemError('the collector closed the connection', 'connection_closed')) : this.closedWith;
  }

  /** The collector sent FIN and no error came: it read everything before closing. */
  get peerClosedCleanly(): boolean {
    return this.peerEnded && (this.closedWith === undefined || this.closedWith instanceof SiemError);
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeWaiters.push(fn);
  }

  /** Resolves when the kernel took every byte (the write callback); rejects if the socket failed. */
  write(data: Buffer): Promise<void> {
    const f = this.failure;
    if (f) return Promise.reject(f);
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => {
        const e = err ?? this.failure;
        if (e) reject(e);
        else resolve();
      });
    });
  }

  /**
   * Send FIN and wait up to `timeout_ms` for the peer's: true when it closed cleanly, meaning it
   * read everything before our FIN. false on a timeout or an error (then the socket is destroyed).
   */
  async end(timeout_ms: number): Promise<boolean> {
    // Already closed or half-closed by the peer: what we wrote since may not have been read.
    if (this.failure) {
      this.socket.destroy();
      return false;
    }
    const clean = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeout_ms);
      this.onClose(() => {
        clearTimeout(timer);
        resolve(this.peerClosedCleanly);
      });
      this.socket.end();
    });
    if (!clean) this.socket.destroy();
    return clean;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
