// The TCP side of one simulated PLC: accepts connections, deframes requests, hands them to the PLC and
// writes responses back (in order, after the PLC's response delay). Can go offline and come back.
import net from 'node:net';
import type { Logger } from '../../protocols/log.js';
import { createDeframer, encodeAdu, type Deframer, type FrameErrorKind, type Framing } from './framing.js';

export interface ServerEndpoint {
  /** The response PDU, or null for no answer. */
  handleFrame(unitId: number, pdu: Buffer): Buffer | null;
  frameError(kind: FrameErrorKind): void;
  /** Delay before a response leaves, in ms. */
  responseDelayMs(): number;
  /** Fault injection: return the ADU to send (maybe corrupted) or null to send nothing. */
  transformResponse(adu: Buffer, framing: Framing): Buffer | null;
}

export interface ServerOptions {
  host: string;
  /** 0 = a free port, chosen at the first listen and kept when coming back online */
  port: number;
  framing: Framing;
  max_connections: number;
  /** RTU over TCP: silence after which a partial frame is dropped (the t3.5 of a serial line) */
  rtu_silence_ms: number;
  logger: Logger;
}

export class ModbusServer {
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  private boundPort: number;
  private offline = false;

  constructor(
    private readonly opts: ServerOptions,
    private readonly endpoint: ServerEndpoint,
  ) {
    this.boundPort = opts.port;
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get isOffline(): boolean {
    return this.offline;
  }

  async listen(): Promise<number> {
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.logger.warn({ err }, 'Modbus server socket error.'));
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    return this.boundPort;
  }

  /** Offline: drop every connection and refuse new ones (the port is closed). Online: listen again. */
  async setOffline(offline: boolean): Promise<void> {
    if (offline === this.offline) return;
    this.offline = offline;
    if (offline) {
      await this.shutdown();
      return;
    }
    // The same port again; another process may hold it for a moment after we released it.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.listen();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async close(): Promise<void> {
    this.offline = true;
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.offline || this.connections.size >= this.opts.max_connections) {
      this.opts.logger.debug({ remote: socket.remoteAddress }, 'Modbus connection refused: too many connections.');
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this.opts, this.endpoint);
    this.connections.add(conn);
    socket.on('close', () => {
      conn.destroy();
      this.connections.delete(conn);
    });
  }
}

class Connection {
  private readonly deframer: Deframer;
  private out: Buffer[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastDue = 0;
  private silence: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: ServerOptions,
    private readonly endpoint: ServerEndpoint,
  ) {
    this.deframer = createDeframer(opts.framing, {
      frame: (unitId, pdu, tid) => this.onFrame(unitId, pdu, tid),
      error: (kind) => endpoint.frameError(kind),
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => opts.logger.debug({ err }, 'Modbus client connection error.'));
  }

  destroy(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.silence) clearTimeout(this.silence);
    this.silence = null;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.deframer.push(chunk);
    // Responses to every frame of one chunk leave in one write.
    if (this.out.length === 1) this.socket.write(this.out[0]);
    else if (this.out.length > 1) this.socket.write(Buffer.concat(this.out));
    this.out = [];
    if (this.opts.framing === 'rtu_over_tcp') this.armSilenceTimer();
  }

  private armSilenceTimer(): void {
    if (this.silence) clearTimeout(this.silence);
    this.silence = null;
    if (this.deframer.pending() === 0) return;
    this.silence = setTimeout(() => {
      this.silence = null;
      this.deframer.flush();
    }, this.opts.rtu_silence_ms);
  }

  private onFrame(unitId: number, pdu: Buffer, tid: number): void {
    const res = this.endpoint.handleFrame(unitId, pdu);
    if (!res) return;
    const adu = this.endpoint.transformResponse(encodeAdu(this.opts.framing, unitId, tid, res), this.opts.framing);
    if (!adu) return;
    const delay = this.endpoint.responseDelayMs();
    if (delay <= 0 && this.timers.size === 0) {
      this.out.push(adu);
      return;
    }
    // Keep responses in request order even when the delay changes between requests.
    const now = Date.now();
    const due = Math.max(now + delay, this.lastDue);
    this.lastDue = due;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.socket.destroyed) this.socket.write(adu);
    }, due - now);
    this.timers.add(t);
  }
}
