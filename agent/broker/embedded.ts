// Embedded MQTT broker (aedes, MQTT 3.1.1 only) for `otsentry demo` and as a test fallback.
// It keeps everything in memory: it is a convenience, not a production broker.
import net from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBrokerOptions {
  /** TCP port; 0 (default) picks a free one */
  port?: number;
  /** Listen address; default 127.0.0.1 (loopback only) */
  host?: string;
}

export interface EmbeddedBroker {
  /** mqtt://host:port */
  url: string;
  port: number;
  /** Close every client connection and the listener. */
  stop(): Promise<void>;
}

/** Start an in-process aedes broker. Clients must speak MQTT 3.1.1 (protocolVersion 4). */
export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker({ heartbeatInterval: 3_600_000, drainTimeout: 30_000 });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await new Promise<void>((r) => aedes.close(() => r()));
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `embedded broker: cannot listen on ${host}:${opts.port ?? 0} (${code ?? (e as Error).message}); ` +
        (code === 'EADDRINUSE' ? 'another process uses this port, pick another one or 0 for a free port' : 'check the address and port'),
    );
  }
  const port = (server.address() as net.AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        aedes.close(() => {
          for (const s of sockets) s.destroy();
        });
      });
      return stopped;
    },
  };
}
