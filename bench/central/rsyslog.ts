// A real rsyslog for the SIEM tests and bench (Debian's rsyslog, rsyslog-gnutls for TLS): rsyslogd -n with its own config, pid file and work
// dir in a temp dir, imtcp on a free loopback port (octet-counted framing is detected by imtcp),
// optionally TLS (gtls) with given certificate files. Two files out: the raw message as received,
// and the fields rsyslog's own RFC 5424 parser found (proof that the header parses).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../procs.js';

export const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => fs.existsSync(p));

export function rsyslogHasTls(): boolean {
  return ['/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so', '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so', '/usr/lib/rsyslog/lmnsd_gtls.so'].some((p) => fs.existsSync(p));
}

export interface RsyslogTls {
  ca: string;
  cert: string;
  key: string;
  /** require a client certificate signed by ca */
  mutual?: boolean;
}

/** Fields rsyslog parsed, separated by a byte that never occurs in our messages. */
export const SEP = '\u0001';

export class Rsyslog {
  readonly dir: string;
  readonly raw: string;
  readonly parsed: string;
  private proc?: ChildProcess;
  private stderr = '';

  private constructor(
    readonly port: number,
    private readonly tls?: RsyslogTls,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-rsyslog-'));
    this.raw = path.join(this.dir, 'raw.log');
    this.parsed = path.join(this.dir, 'parsed.log');
    fs.writeFileSync(path.join(this.dir, 'rsyslog.conf'), this.config());
  }

  static async start(tls?: RsyslogTls): Promise<Rsyslog> {
    const r = new Rsyslog(await freePort(), tls);
    await r.restart();
    return r;
  }

  private config(): string {
    const t = this.tls;
    const driver = t
      ? [
          `global(DefaultNetstreamDriverCAFile="${t.ca}" DefaultNetstreamDriverCertFile="${t.cert}" DefaultNetstreamDriverKeyFile="${t.key}")`,
          `module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="${t.mutual ? 'x509/certvalid' : 'anon'}")`,
        ]
      : ['module(load="imtcp")'];
    return [
      `global(workDirectory="${this.dir}" maxMessageSize="64k")`,
      ...driver,
      `input(type="imtcp" address="127.0.0.1" port="${this.port}")`,
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      `template(name="fields" type="string" string="%pri%${SEP}%protocol-version%${SEP}%timereported:::date-rfc3339%${SEP}%hostname%${SEP}%app-name%${SEP}%procid%${SEP}%msgid%${SEP}%structured-data%${SEP}%msg%\\n")`,
      `action(type="omfile" file="${this.raw}" template="raw" flushOnTXEnd="on" asyncWriting="off")`,
      `action(type="omfile" file="${this.parsed}" template="fields" flushOnTXEnd="on" asyncWriting="off")`,
      '',
    ].join('\n');
  }

  /** Start (again) on the same port; resolves when the port accepts connections. */
  async restart(): Promise<void> {
    const conf = path.join(this.dir, 'rsyslog.conf');
    const check = spawnSync(RSYSLOGD!, ['-N1', '-f', conf], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`rsyslog config invalid: ${check.stderr}${check.stdout}`);
    this.stderr = '';
    fs.rmSync(path.join(this.dir, 'rsyslogd.pid'), { force: true }); // left behind by a SIGKILL
    const proc = spawn(RSYSLOGD!, ['-n', '-f', conf, '-i', path.join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc = proc;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode}): ${this.stderr}`);
      if (await accepts(this.port)) return;
      if (Date.now() > deadline) throw new Error(`rsyslogd did not listen on ${this.port}: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM (rsyslog flushes its queue and files first) or SIGKILL; resolves when it ended. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }

  private readonly counted = new Map<string, { offset: number; n: number }>();

  /** Lines written so far; reads only what was appended since the last call (the bench polls it). */
  count(file = this.raw): number {
    const c = this.counted.get(file) ?? { offset: 0, n: 0 };
    if (!fs.existsSync(file)) return 0;
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const got = fs.readSync(fd, buf, 0, buf.length, c.offset);
        if (got === 0) break;
        for (let i = buf.indexOf(10); i >= 0 && i < got; i = buf.indexOf(10, i + 1)) c.n++;
        c.offset += got;
      }
    } finally {
      fs.closeSync(fd);
    }
    this.counted.set(file, c);
    return c.n;
  }

  lines(file = this.raw): string[] {
    if (!fs.existsSync(file)) return [];
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  }

  async waitForLines(n: number, timeout_ms = 20_000, file = this.raw): Promise<string[]> {
    const deadline = Date.now() + timeout_ms;
    for (;;) {
      const l = this.lines(file);
      if (l.length >= n) return l;
      if (Date.now() > deadline) throw new Error(`rsyslog wrote ${l.length} of ${n} lines to ${path.basename(file)} in ${timeout_ms} ms; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}


function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
