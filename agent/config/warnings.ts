// Settings the agent starts with but warns about (in the log and the status topic): broker links
// without transport security to another host, certificate checks turned off, and config or rules
// files that others can change.
import path from 'node:path';
import type { BrokerConfig } from './schema.js';
import type { ConfigProblem } from './load.js';
import { writableFileProblem } from './permissions.js';

/** localhost, 127.0.0.0/8 and ::1: traffic that never leaves the gateway. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function brokerWarnings(broker: BrokerConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  let url: URL | undefined;
  try {
    url = new URL(broker.url);
  } catch {
    // the schema already accepted the URL's form; a host mqtt.js cannot parse fails at connect
  }
  if (url && /^(mqtt|tcp|ws):$/.test(url.protocol) && !isLoopbackHost(url.hostname)) {
    out.push({ path: 'broker.url', message: `${url.protocol}// to ${url.hostname} is not encrypted: signals and the broker password can be read and changed on the way; use mqtts:// (or wss://) with broker.tls` });
  }
  if (broker.tls?.reject_unauthorized === false) {
    out.push({ path: 'broker.tls.reject_unauthorized', message: 'false: the broker certificate is not checked, so anyone on the path can pose as the broker; set it to true and give broker.tls.ca_file' });
  }
  return out;
}

/** Config and rules files writable by group or others. */
export function writableFileWarnings(files: ReadonlyArray<{ path: string; file: string; what: string }>): ConfigProblem[] {
  return files.flatMap((f) => {
    const problem = writableFileProblem(path.resolve(f.file), f.what);
    return problem === undefined ? [] : [{ path: f.path, message: problem }];
  });
}

/** Rules files given with --rules (relative to the working folder) that group or others can change. */
export function rulesFileWarnings(files: readonly string[] = []): ConfigProblem[] {
  return writableFileWarnings(files.map((file) => ({ path: `--rules ${file}`, file, what: 'rules file' })));
}
