// The demo's live view: subscribes to the broker like a central SOC would, prints one readable
// line per signal, status and asset change, and verifies what arrived as `otsentry verify` does:
// hashes, chain, signatures (key from the retained status), seq continuity and gap events.
import mqtt from 'mqtt';
import type { RiskSignal, Severity } from '../../rules/signal.js';
import { Capture } from '../verify/capture.js';
import { verifySignals } from '../verify/verify.js';

const SEVERITY_COLOR: Record<Severity, string> = { info: '37', low: '36', medium: '33', high: '31', critical: '1;41' };

export interface ViewStats {
  signals: number;
  raised: number;
  cleared: number;
  duplicates: number;
  /** what verification of everything received so far found (computed when read) */
  readonly chainProblems: string[];
  bySeverity: Record<string, number>;
  received: RiskSignal[];
}

export interface LiveView {
  stats: ViewStats;
  stop(): Promise<void>;
}

export async function startLiveView(opts: { url: string; prefix: string; json: boolean; out?: NodeJS.WritableStream }): Promise<LiveView> {
  const out = opts.out ?? process.stdout;
  const color = !opts.json && (out as NodeJS.WriteStream).isTTY === true;
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const capture = new Capture();
  let messages = 0;
  const stats: ViewStats = {
    signals: 0,
    raised: 0,
    cleared: 0,
    duplicates: 0,
    get chainProblems() {
      const report = verifySignals(capture.signals, { keys: [], announced: capture.announced });
      return [...capture.badLines.map((b) => b.message), ...report.agents.flatMap((a) => a.problems.map((p) => `${a.site}/${a.agent}: ${p.message}`))];
    },
    bySeverity: {},
    received: [],
  };
  const seenIds = new Set<string>();
  let lastStatus = '';
  let lastLevel = '';

  const client = mqtt.connect(opts.url, { clientId: `otsentry-demo-view-${process.pid}`, reconnectPeriod: 1000, connectTimeout: 5000, protocolVersion: 4 });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cannot reach the broker at ${opts.url} within 10 s; check --broker (host, port, and that it accepts anonymous MQTT 3.1.1 clients)`)), 10_000);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } catch (e) {
    client.end(true);
    throw Object.assign(e as Error, { code: 'broker_unreachable' });
  }
  await client.subscribeAsync(`${opts.prefix}/#`, { qos: 1 });

  client.on('message', (topic, payload) => {
    capture.message(topic, payload.toString('utf8'), ++messages);
    const kind = topic.slice(topic.lastIndexOf('/') + 1);
    let msg: unknown;
    try {
      msg = JSON.parse(payload.toString('utf8'));
    } catch {
      out.write(`! ${topic}: payload is not JSON (${payload.length} bytes)\n`);
      return;
    }
    if (kind === 'events') onSignal(msg as RiskSignal);
    else if (kind === 'status') onStatus(msg as Record<string, unknown>);
    else if (kind === 'assets') onAssets(msg as Record<string, unknown>);
  });

  function onSignal(s: RiskSignal): void {
    if (seenIds.has(s.id)) {
      stats.duplicates++; // at-least-once delivery: consumers dedupe by id
      return;
    }
    seenIds.add(s.id);
    stats.signals++;
    stats.received.push(s);
    if (s.state === 'raised') stats.raised++;
    else stats.cleared++;
    stats.bySeverity[s.severity] = (stats.bySeverity[s.severity] ?? 0) + 1;
    if (opts.json) {
      out.write(JSON.stringify(s) + '\n');
      return;
    }
    const time = s.ts.slice(11, 19);
    const sev = paint(SEVERITY_COLOR[s.severity] ?? '0', s.severity.toUpperCase().padEnd(8));
    const state = s.state === 'raised' ? paint('1', 'RAISED ') : paint('32', 'cleared');
    const where = s.tag ? `${s.device}/${s.tag}` : s.device;
    out.write(`${time} #${String(s.seq).padStart(4)} ${sev} ${state} ${s.category.padEnd(12)} ${where.padEnd(28)} ${s.message}  [${s.rule}, score ${s.score}]\n`);
  }

  function onStatus(st: Record<string, unknown>): void {
    if (opts.json) return;
    const devices = st.devices && typeof st.devices === 'object' ? Object.entries(st.devices as Record<string, unknown>).map(([id, v]) => `${id} ${typeof v === 'object' && v ? (v as { state?: string }).state ?? '' : String(v)}`) : [];
    const line = `agent ${String(st.state)}; outbox ${String(st.outbox_depth ?? '?')}; ${devices.join(', ')}`;
    if (line !== lastStatus) out.write(paint('2', `-- status: ${line}`) + '\n');
    lastStatus = line;
  }

  function onAssets(a: Record<string, unknown>): void {
    if (opts.json) return;
    const level = String(a.site_level ?? a.warning_level ?? '');
    if (level && level !== lastLevel) out.write(paint('1;35', `-- site warning level: ${level}`) + '\n');
    lastLevel = level;
  }

  return {
    stats,
    async stop() {
      await client.endAsync();
    },
  };
}
