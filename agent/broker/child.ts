// Child-process entry for the embedded broker: `node dist/agent/broker/child.js [PORT] [HOST]`.
// Prints one JSON line {"ready":true,"port":N} when listening; stops cleanly on SIGTERM/SIGINT.
import { startEmbeddedBroker } from './embedded.js';

async function main(): Promise<void> {
  const portArg = process.argv[2] ?? '0';
  const port = Number(portArg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`broker child: port "${portArg}" is not a TCP port; give a number 0-65535 (0 = free port)\n`);
    process.exit(2);
  }
  const broker = await startEmbeddedBroker({ port, host: process.argv[3] ?? '127.0.0.1' });
  const shutdown = (): void => {
    void broker.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdout.write(JSON.stringify({ ready: true, port: broker.port }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`broker child: ${(e as Error).message}\n`);
  process.exit(1);
});
