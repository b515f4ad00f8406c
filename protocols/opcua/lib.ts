// Loads node-opcua on first use (about a second and 80 MB, so a Modbus-only agent never pays for
// it) and routes its console output into our structured log: node-opcua prints warnings and
// errors to stdout by default, which would corrupt the CLI's output and a child's ready line.
import type { Logger } from 'pino';

export type NodeOpcua = typeof import('node-opcua');

let loading: Promise<NodeOpcua> | undefined;
let sink: Logger | undefined;

/** Where node-opcua's own messages go (debug level; they are diagnostics, our errors say what matters). */
export function setOpcuaLogger(logger: Logger | undefined): void {
  if (logger && !sink) sink = logger.child({ lib: 'node-opcua' });
}

function forward(level: 'warn' | 'error'): (...args: unknown[]) => void {
  return (...args: unknown[]) => {
    // The first argument is node-opcua's context (file and line); the rest is the message.
    const text = args
      .slice(1)
      .map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a)))
      .join(' ')
      .slice(0, 2000);
    sink?.debug({ node_opcua_level: level }, text);
  };
}

/** node-opcua, loaded once, with its console output silenced. */
export function loadOpcua(): Promise<NodeOpcua> {
  loading ??= import('node-opcua').then((ua) => {
    // Set synchronously right after loading, before its start-up self-test (an RSA key
    // generation) logs its Node 20 PKCS#1 v1.5 warning.
    ua.setWarningLogger(forward('warn'));
    ua.setErrorLogger(forward('error'));
    return ua;
  });
  return loading;
}
