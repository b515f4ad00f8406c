// The demo's central process: `otsentry central` in this process against the demo's broker, a
// SQLite store in the demo's folder, the registered parts (the console, when there is one)
// started as `central` starts them. The embedded broker speaks MQTT 3.1.1 without shared
// subscriptions, so central connects the way it must there.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Logger } from '../../protocols/log.js';
import { loadCentralConfig } from '../central/config/load.js';
import { startCentral, type Central } from '../central/central.js';
import { demoConsole } from '../central/console/demo.js';

export interface DemoCentral {
  central: Central;
  configFile: string;
  /** lines for the banner: the store, and each part with an address (the console) */
  banner: string[];
  /** one line for the end of the run: what central verified and stored */
  summary(): Promise<string>;
}

export async function startDemoCentral(o: { workDir: string; brokerUrl: string; embedded: boolean; logger: Logger }): Promise<DemoCentral> {
  const dir = path.join(o.workDir, 'central');
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'central.yaml');
  const broker = o.embedded ? { url: o.brokerUrl, protocol_version: 4, shared_subscription: false, session_expiry_secs: 0 } : { url: o.brokerUrl, session_expiry_secs: 0 };
  // The console on a free loopback port with one responder whose password lives as long as the demo.
  const ui = await demoConsole();
  fs.writeFileSync(configFile, stringify({ central: { id: `demo-${process.pid}`, data_dir: 'data' }, broker, store: { type: 'sqlite', path: 'central.db' }, console: ui.section }), { mode: 0o600 });
  const central = await startCentral(loadCentralConfig(configFile), { log: o.logger.child({ stage: 'central' }) });
  const banner = [`central: verifying and storing every signal into ${path.join(dir, 'data', 'central.db')} (config ${configFile})`];
  for (const p of central.parts) {
    if (p.url === undefined) continue;
    banner.push(`${p.name}: ${p.url}${p.name === 'console' ? ` (log in as ${ui.login.name} / ${ui.login.password})` : ''}`);
  }
  return {
    central,
    configFile,
    banner,
    async summary() {
      await central.ingest.idle();
      const s = central.ingest.stats;
      const agents = await central.store.listAgents();
      const chains = agents.map((a) => `${a.site}/${a.agent} ${a.chain_state} to seq ${a.chain_seq}`).join(', ') || 'no agent seen';
      const findings = await central.store.listFindings({ limit: 1000 });
      const byCode = new Map<string, number>();
      for (const f of findings) {
        const k = f.severity === 'info' ? `${f.code} (info: the agent stopped)` : f.code;
        byCode.set(k, (byCode.get(k) ?? 0) + 1);
      }
      const fl = [...byCode].map(([c, n]) => `${n} ${c}`).join(', ') || 'none';
      return `central: ${s.stored} signals verified and stored (${s.duplicates} duplicates dropped); chain ${chains}; central findings: ${fl}`;
    },
  };
}
