// The `central` command of the otsentry CLI (agent/cli.ts adds it): `otsentry central --config
// central.yaml` runs the receiving end; `central keys list|accept` shows and changes the pinned
// agent keys; `central findings` lists central's own findings. Exit codes as everywhere: 1 config
// or operational problem, 2 usage.
import os from 'node:os';
import type { Command } from 'commander';
import { createLogger } from '../../protocols/log.js';
import { loadCentralConfig } from '../central/config/load.js';
import { acceptKey, formatKeys, parseAgentRef } from '../central/keys.js';
import { FINDING_SEVERITY } from '../central/findings.js';
import { openStore } from '../central/store/open.js';
import type { FindingCode } from '../central/store/types.js';

const FINDING_CODES = Object.keys(FINDING_SEVERITY) as FindingCode[];

export interface CentralKit {
  untilSignal(): Promise<unknown>;
  usage(message: string): Error;
}

/** `central` exits at most this long after SIGTERM/SIGINT; what was not acked is resent by the broker. */
const STOP_BOUND_MS = 10_000;

export function addCentralCommands(program: Command, kit: CentralKit): void {
  const central = program
    .command('central')
    .description('the receiving end: subscribe to every agent, verify each signal (hash, chain, pinned key), store it (SQLite or PostgreSQL), raise findings; `central keys` manages the pinned keys')
    .option('-c, --config <file>', 'central config (YAML; see deploy/central.yaml)')
    .action(async (o: { config?: string }) => {
      if (o.config === undefined) throw kit.usage("central needs --config FILE (a sample: deploy/central.yaml; `otsentry schema central` prints its schema).");
      process.umask(0o077);
      const loaded = loadCentralConfig(o.config);
      const log = createLogger(process.env.OTSENTRY_LOG_LEVEL ?? loaded.config.central.log_level);
      process.on('unhandledRejection', (reason) => log.error({ err: reason instanceof Error ? reason.message : String(reason), error_code: 'unhandled_rejection' }, 'Unexpected rejected promise; central continues.'));
      process.on('uncaughtException', (err) => {
        log.fatal({ err: err.message, error_code: 'uncaught_exception' }, 'Unexpected error; central stops. What was not acked is resent by the broker.');
        process.exit(70);
      });
      const { startCentral } = await import('../central/central.js');
      const signal = kit.untilSignal();
      // A stop while the broker is still unreachable ends at once: nothing was acked, nothing is lost.
      const first = await Promise.race([startCentral(loaded, { log }).then((c) => ({ c })), signal.then((sig) => ({ sig }))]);
      if (!('c' in first)) {
        log.info({ signal: first.sig }, 'Stopping before the broker connection was up.');
        process.exit(0);
      }
      const c = first.c;
      const sig = await signal;
      log.info({ signal: sig }, 'Stopping.');
      const bound = setTimeout(() => {
        log.warn({ error_code: 'stop_timeout' }, `Stop took longer than ${STOP_BOUND_MS / 1000} s; exiting now. What was not acked is resent by the broker.`);
        process.exit(0);
      }, STOP_BOUND_MS);
      bound.unref();
      await c.stop();
      clearTimeout(bound);
    });

  central
    .command('findings')
    .description("central's own findings, newest first: refused signals, key changes, gaps, broken chains, stalled and offline agents")
    .option('-c, --config <file>', 'central config (YAML)')
    .option('--agent <site/agent>', 'only this agent')
    .option('--code <code>', 'only this finding code (e.g. forged, gap, offline)')
    .option('--limit <n>', 'at most this many', (v: string) => Number(v), 50)
    .option('--json', 'one JSON object per line')
    .action(async (o: { config?: string; agent?: string; code?: string; limit: number; json?: boolean }, cmd: Command) => {
      const file = o.config ?? (cmd.optsWithGlobals() as { config?: string }).config;
      if (file === undefined) throw kit.usage('central findings needs --config FILE.');
      if (!Number.isInteger(o.limit) || o.limit < 1) throw kit.usage('--limit must be a whole number of 1 or more.');
      if (o.code !== undefined && !(FINDING_CODES as readonly string[]).includes(o.code)) throw kit.usage(`--code ${o.code} is unknown; codes: ${FINDING_CODES.join(', ')}.`);
      const who = o.agent === undefined ? undefined : parseAgentRef(o.agent);
      const loaded = loadCentralConfig(file);
      const store = await openStore(loaded.config.store, loaded.dataDir, loaded.baseDir);
      try {
        const list = await store.listFindings({ site: who?.site, agent: who?.agent, code: o.code as FindingCode | undefined, limit: o.limit });
        for (const f of list) {
          process.stdout.write(o.json ? JSON.stringify(f) + '\n' : `${new Date(f.ts_ms).toISOString()}  ${f.severity.toUpperCase().padEnd(8)} ${f.code.padEnd(13)} ${f.site && f.agent ? `${f.site}/${f.agent}` : '-'}${f.seq === undefined ? '' : ` seq ${f.seq}`}  ${f.message}\n`);
        }
        if (list.length === 0 && !o.json) process.stdout.write('no findings\n');
      } finally {
        await store.close();
      }
    });

  const keys = central.command('keys').description("the agents' pinned signing keys: list them, accept a changed one");
  keys
    .command('list')
    .description('every agent central has seen: pinned key, a newly announced key waiting for acceptance, status, chain state')
    .option('-c, --config <file>', 'central config (YAML)')
    .option('--json', 'print the agent records as JSON')
    .action(async (o: { config?: string; json?: boolean }, cmd: Command) => {
      const file = o.config ?? (cmd.optsWithGlobals() as { config?: string }).config;
      if (file === undefined) throw kit.usage('central keys list needs --config FILE.');
      const loaded = loadCentralConfig(file);
      const store = await openStore(loaded.config.store, loaded.dataDir, loaded.baseDir);
      try {
        const agents = await store.listAgents();
        process.stdout.write(o.json ? JSON.stringify(agents, null, 2) + '\n' : formatKeys(agents));
      } finally {
        await store.close();
      }
    });
  keys
    .command('accept')
    .description("pin an agent's new signing key (after comparing its key id with `otsentry key --config FILE` on the gateway), or pin a key from a PEM file")
    .argument('<site/agent>', 'the agent, e.g. plant-a/gw-1')
    .option('-c, --config <file>', 'central config (YAML)')
    .option('--key-id <id>', 'the key id you checked on the gateway; must be the one the agent announces')
    .option('--key <file>', "pin this public key PEM instead of the announced one (e.g. before the agent's first connection)")
    .action(async (ref: string, o: { config?: string; keyId?: string; key?: string }, cmd: Command) => {
      const file = o.config ?? (cmd.optsWithGlobals() as { config?: string }).config;
      if (file === undefined) throw kit.usage('central keys accept needs --config FILE.');
      if (o.keyId === undefined && o.key === undefined) {
        parseAgentRef(ref);
      }
      const loaded = loadCentralConfig(file);
      const store = await openStore(loaded.config.store, loaded.dataDir, loaded.baseDir);
      try {
        const r = await acceptKey(store, ref, { keyId: o.keyId, keyFile: o.key, by: `operator ${os.userInfo().username}`, now: Date.now() });
        process.stdout.write(`${ref}: key ${r.key.key_id} pinned${r.previous ? ` (was ${r.previous})` : ''}; running central processes use it from their next sweep (a few seconds).\n`);
      } finally {
        await store.close();
      }
    });
}
