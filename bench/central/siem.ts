// SIEM output benchmark: how many CEF events/s one output writes to a real rsyslog (imtcp, octet
// counting, omfile), over TCP and over TLS, from a SQLite store filled with signed signals.
// Run: `npm run build && node dist/bench/central/siem.js [--events N]`. Prints figures; asserts nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { centralConfigSchema } from '../../agent/central/config/schema.js';
import { SiemOutput } from '../../agent/central/siem/output.js';
import { tlsOptions } from '../../agent/central/siem/part.js';
import { SqliteStore } from '../../agent/central/store/sqlite.js';
import { silentLogger } from '../../protocols/log.js';
import { Rsyslog, RSYSLOGD, rsyslogHasTls, type RsyslogTls } from './rsyslog.js';
import { SimAgent } from './simagent.js';

const arg = process.argv.indexOf('--events');
const EVENTS = arg > 0 ? Number(process.argv[arg + 1]) : 50_000;
const AGENTS = 10;

async function fill(store: SqliteStore): Promise<void> {
  const agents = Array.from({ length: AGENTS }, (_, i) => new SimAgent('plant-a', `gw-${i + 1}`));
  for (const a of agents) await store.putAssets({ site: a.site, agent: a.agent, payload: JSON.parse(a.assets()) as Record<string, unknown>, received_ms: Date.now() });
  for (let done = 0; done < EVENTS; ) {
    const rows = [];
    for (let i = 0; i < 1000 && done < EVENTS; i++, done++) rows.push({ ...agents[done % AGENTS]!.next(), verdict: 'verified' as const, received_ms: Date.now() });
    await store.insertSignals(rows);
  }
}

function makePki(dir: string): RsyslogTls {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  run('req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=bench CA');
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

interface Result {
  written_per_s: number;
  in_file_per_s: number;
  bytes_per_event: number;
  cpu_ms_per_1k: number;
}

async function runOnce(store: SqliteStore, name: string, tls: RsyslogTls | undefined, pkiDir: string): Promise<Result> {
  const rs = await Rsyslog.start(tls);
  try {
    const cfg = centralConfigSchema.parse({ broker: { url: 'mqtt://127.0.0.1:1883' }, siem: [{ name, host: '127.0.0.1', port: rs.port, ...(tls ? { tls: { ca_file: 'ca.crt' } } : {}) }] }).siem[0]!;
    const out = new SiemOutput({
      cfg,
      index: 0,
      store,
      log: silentLogger,
      central: 'bench',
      render: { hostname: 'bench', version: '0.1.0', procid: String(process.pid) },
      connect: { host: cfg.host, port: cfg.port, tls: tlsOptions(cfg, 0, pkiDir), timeout_ms: cfg.connect_timeout_ms },
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await out.start();
    let written = 0;
    for (;;) {
      if (written === 0 && out.stats.sent >= EVENTS) written = performance.now() - t0;
      if (rs.count() >= EVENTS) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const inFile = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const bytes = out.stats.bytes;
    await out.stop();
    return {
      written_per_s: Math.round(EVENTS / ((written || inFile) / 1000)),
      in_file_per_s: Math.round(EVENTS / (inFile / 1000)),
      bytes_per_event: Math.round(bytes / EVENTS),
      cpu_ms_per_1k: Number((((cpu.user + cpu.system) / 1000 / EVENTS) * 1000).toFixed(1)),
    };
  } finally {
    await rs.close();
  }
}

async function main(): Promise<void> {
  if (RSYSLOGD === undefined) {
    process.stdout.write('siem bench: rsyslogd not installed (Debian: apt-get install rsyslog rsyslog-gnutls); skipped.\n');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-siem-bench-'));
  try {
    const store = new SqliteStore(path.join(dir, 'central.db'));
    await store.init();
    process.stderr.write(`  .. storing ${EVENTS} signed signals of ${AGENTS} agents\n`);
    await fill(store);
    process.stdout.write(`SIEM output → rsyslog (imtcp + omfile, same machine, ${os.cpus().length} cores), ${EVENTS} CEF events, batch 500\n`);
    const line = (label: string, r: Result) =>
      process.stdout.write(`  ${label.padEnd(5)} ${String(r.written_per_s).padStart(8)} events/s written   ${String(r.in_file_per_s).padStart(8)} events/s in rsyslog's file   ${r.bytes_per_event} bytes/event   ${r.cpu_ms_per_1k} ms central CPU per 1k events\n`);
    // A first pass warms the store's page cache and the JIT; it is not printed.
    await runOnce(store, 'warmup', undefined, dir);
    line('TCP', await runOnce(store, 'tcp', undefined, dir));
    if (rsyslogHasTls()) line('TLS', await runOnce(store, 'tls', makePki(dir), dir));
    else process.stdout.write('  TLS   skipped: rsyslog-gnutls not installed\n');
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
