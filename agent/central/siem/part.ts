// The SIEM part of the central process: one SiemOutput per `siem:` entry, TLS material loaded at
// start (a bad file or passphrase is a clear startup error), metrics when central has a registry.
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { resolveSecret } from '../../config/secrets.js';
import { loadKey, readPem } from '../../forward/options.js';
import type { CentralContext, CentralPart } from '../parts.js';
import type { SyslogOutputConfig } from './config.js';
import { SiemError } from './errors.js';
import { registerSiemMetrics } from './metrics.js';
import { SiemOutput } from './output.js';

/** TLS options of one output; file paths are relative to the config file. */
export function tlsOptions(cfg: SyslogOutputConfig, index: number, baseDir: string): tls.ConnectionOptions | undefined {
  const t = cfg.tls;
  if (t === undefined) return undefined;
  const where = `siem[${index}].tls`;
  try {
    // Node checks the certificate against host; servername only when the certificate names another.
    const o: tls.ConnectionOptions = { rejectUnauthorized: t.reject_unauthorized };
    if (t.servername !== undefined) o.servername = t.servername;
    if (t.ca_file !== undefined) o.ca = readPem(t.ca_file, baseDir, `${where}.ca_file`);
    if (t.cert_file !== undefined) o.cert = readPem(t.cert_file, baseDir, `${where}.cert_file`);
    if (t.key_file !== undefined) {
      const passphrase = t.key_passphrase === undefined ? undefined : resolveSecret(t.key_passphrase, baseDir, `${where}.key_passphrase`);
      o.key = loadKey(readPem(t.key_file, baseDir, `${where}.key_file`), passphrase, path.resolve(baseDir, t.key_file), where);
    }
    return o;
  } catch (e) {
    throw new SiemError((e as Error).message, 'tls_config');
  }
}

export async function startSiem(ctx: CentralContext): Promise<CentralPart | undefined> {
  const outputs = ctx.config.siem;
  if (outputs.length === 0) return undefined;
  const log = ctx.log.child({ part: 'siem' });
  const hostname = os.hostname();
  const made = outputs.map(
    (cfg, index) =>
      new SiemOutput({
        cfg,
        index,
        store: ctx.store,
        feed: ctx.feed,
        log,
        central: ctx.config.central.id,
        render: { hostname: cfg.hostname ?? hostname, version: ctx.version, procid: String(process.pid) },
        connect: { host: cfg.host, port: cfg.port, tls: tlsOptions(cfg, index, ctx.baseDir), timeout_ms: cfg.connect_timeout_ms },
      }),
  );
  const started: SiemOutput[] = [];
  try {
    for (const o of made) {
      await o.start();
      started.push(o);
    }
  } catch (e) {
    await Promise.all(started.map((o) => o.stop()));
    throw e;
  }
  if (ctx.metrics) registerSiemMetrics(ctx.metrics, started);
  return {
    name: 'siem',
    stop: async () => {
      await Promise.all(started.map((o) => o.stop()));
    },
  };
}
