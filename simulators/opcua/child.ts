// Runs the OPC UA simulator in its own process: `node dist/simulators/opcua/child.js CONFIG` (a YAML
// or JSON file) prints one JSON line {"ready":true,"servers":[...]} once every server listens and
// stops cleanly on SIGTERM/SIGINT. Benchmarks use it so the agent's CPU is measured apart.
import { pathToFileURL } from 'node:url';
import { createLogger } from '../../agent/log.js';
import { loadOpcuaSimConfig, parseOpcuaSimConfig } from './config.js';
import { startOpcuaSimulator, type OpcuaSimulator } from './index.js';

async function main(): Promise<void> {
  const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'warn');
  const file = process.argv[2];
  let sim: OpcuaSimulator | undefined;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    (sim ? sim.stop() : Promise.resolve()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // Installed before the ready line: a parent may signal the moment it reads it.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    if (!file) throw new Error('usage: node dist/simulators/opcua/child.js CONFIG (a YAML or JSON simulator config)');
    const started = await startOpcuaSimulator(parseOpcuaSimConfig(loadOpcuaSimConfig(file), file), { logger });
    sim = started;
    if (stopping) {
      await started.stop();
      process.exit(0);
    }
    process.stdout.write(`${JSON.stringify({ ready: true, servers: started.servers })}\n`);
  } catch (e) {
    const message = (e as Error).message;
    process.stdout.write(`${JSON.stringify({ ready: false, error: message })}\n`);
    process.stderr.write(`opcua simulator: ${message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
