// Runs the OPC UA simulator in its own process: `node dist/simulators/opcua/child.js CONFIG` (a YAML
// or JSON file) prints one JSON line {"ready":true,"servers":[...]} once every server listens (each
// with its certificate as base64 DER) and stops cleanly on SIGTERM/SIGINT. Commands, one JSON line
// each on stdin, are answered with one line {"id","ok","error"?} on stdout:
//   {"id":1,"op":"start","scenario":"cert-swap","server":"tank-ua-1","params":{}}
//   {"id":2,"op":"stop","scenario":"cert-swap","server":"tank-ua-1"}
//   {"id":3,"op":"trust","server":"tank-ua-1","cert":"-----BEGIN CERTIFICATE-----..."}
//   {"id":4,"op":"restart","server":"tank-ua-1"}
// Tests and benchmarks use it so the agent and the servers do not share one event loop.
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../../protocols/log.js';
import { loadOpcuaSimConfig, parseOpcuaSimConfig } from './config.js';
import { startOpcuaSimulator, type OpcuaSimulator } from './index.js';

interface Command {
  id?: unknown;
  op?: unknown;
  scenario?: unknown;
  server?: unknown;
  params?: unknown;
  cert?: unknown;
}

async function execute(sim: OpcuaSimulator, c: Command): Promise<Record<string, unknown>> {
  const server = String(c.server);
  switch (c.op) {
    case 'start':
      await sim.startScenario(String(c.scenario), server, (c.params ?? {}) as Record<string, unknown>);
      return {};
    case 'stop':
      return { stopped: await sim.stopScenario(String(c.scenario), server) };
    case 'trust':
      await sim.server(server).trustClient(String(c.cert));
      return {};
    case 'restart':
      await sim.server(server).restart();
      return {};
    default:
      throw new Error(`unknown op ${String(c.op)}; use start, stop, trust or restart`);
  }
}

function serve(sim: OpcuaSimulator, write: (line: string) => void): void {
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    let c: Command;
    try {
      c = JSON.parse(line) as Command;
    } catch {
      write(JSON.stringify({ ok: false, error: 'not a JSON command line' }));
      return;
    }
    execute(sim, c).then(
      (r) => write(JSON.stringify({ id: c.id, ok: true, ...r })),
      (e: unknown) => write(JSON.stringify({ id: c.id, ok: false, error: (e as Error).message })),
    );
  });
}

async function main(): Promise<void> {
  const logger = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? 'warn');
  const file = process.argv[2];
  const write = (line: string): void => void process.stdout.write(`${line}\n`);
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
    const servers = started.servers.map((s) => ({ ...s, certificate_der: started.server(s.id).currentCertificate()?.toString('base64') ?? null }));
    serve(started, write);
    write(JSON.stringify({ ready: true, servers }));
  } catch (e) {
    const message = (e as Error).message;
    write(JSON.stringify({ ready: false, error: message }));
    process.stderr.write(`opcua simulator: ${message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
