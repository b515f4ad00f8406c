// Runs the simulator in its own process: `node dist/simulators/modbus/child.js CONFIG` prints one JSON
// line {"ready":true,"plcs":[...]} once every PLC listens, and stops cleanly on SIGTERM/SIGINT.
// Tests and benchmarks use it so the agent's CPU is measured apart from the simulator's.
import { pathToFileURL } from 'node:url';
import { createLogger, type Logger } from '../../protocols/log.js';
import { loadSimulatorConfig } from './config.js';
import { startModbusSimulator, type ModbusSimulator } from './index.js';

export async function runChild(argv: readonly string[], write: (line: string) => void, logger: Logger): Promise<ModbusSimulator> {
  const file = argv[0];
  if (!file) throw new Error('usage: node dist/simulators/modbus/child.js CONFIG (a YAML or JSON simulator config)');
  const sim = await startModbusSimulator(loadSimulatorConfig(file), { logger });
  write(JSON.stringify({ ready: true, plcs: sim.plcs }));
  return sim;
}

async function main(): Promise<void> {
  const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'warn');
  let sim: ModbusSimulator | undefined;
  let stopping = false;
  // Handlers go in before the ready line: a parent may stop us the moment it reads it.
  const stop = (): void => {
    stopping = true;
    if (!sim) return; // still starting: exit once started
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    sim = await runChild(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`), logger);
  } catch (e) {
    const message = (e as Error).message;
    process.stdout.write(`${JSON.stringify({ ready: false, error: message })}\n`);
    process.stderr.write(`simulator: ${message}\n`);
    process.exit(1);
  }
  if (stopping) stop();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
