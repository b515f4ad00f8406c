// The SIEM output against a real rsyslog (imtcp, octet-counted frames, omfile): CEF lines arrive
// and parse back into the expected fields (and rsyslog's own RFC 5424 parser reads the header);
// rsyslog stopped or killed mid-stream and restarted loses nothing, duplicates only what was not
// yet confirmed, and keeps the order; a restarted output resumes from its cursor.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CentralFeed } from '../../../agent/central/feed.js';
import { centralConfigSchema } from '../../../agent/central/config/schema.js';
import { cursorNames } from '../../../agent/central/siem/output.js';
import { startSiem } from '../../../agent/central/siem/part.js';
import { SimAgent } from '../../../bench/central/simagent.js';
import { parse5424, parseCef } from './cefparse.js';
import { addSignals, captureLog, makeOutput, outputConfig, tempStore, until } from './fixtures.js';
import { Rsyslog, RSYSLOGD, SEP } from '../../../bench/central/rsyslog.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup() {
  const rs = await Rsyslog.start();
  cleanup.push(() => rs.close());
  const t = await tempStore();
  cleanup.push(() => t.close());
  return { rs, store: t.store, dir: t.dir };
}

const ids = (lines: string[]) => lines.map((l) => parseCef(parse5424(l).msg).ext.externalId!);

/** Every line belongs to a run that is a contiguous slice of `expected`; a new run starts at or before where the last one ended. */
function assertAtLeastOnceInOrder(got: string[], expected: string[]): { duplicates: number } {
  const index = new Map(expected.map((id, i) => [id, i]));
  let last = -1;
  for (const id of got) {
    const i = index.get(id);
    expect(i, `unexpected id ${id}`).toBeDefined();
    // Either the next one, or a resend restarting at an earlier event (never skipping ahead).
    if (i! !== last + 1) expect(i!, `skipped from ${last} to ${i}`).toBeLessThanOrEqual(last);
    last = i!;
  }
  expect(new Set(got)).toEqual(new Set(expected));
  return { duplicates: got.length - expected.length };
}

describe.skipIf(RSYSLOGD === undefined)('SIEM output to rsyslog', () => {
  it('delivers signals and findings as RFC 5424 + CEF that parse back into the expected fields', async () => {
    const { rs, store, dir } = await setup();
    const agent = new SimAgent('plant-a', 'gw-1');
    await store.putAssets({ site: 'plant-a', agent: 'gw-1', payload: JSON.parse(agent.assets()) as Record<string, unknown>, received_ms: Date.now() });
    const first = await addSignals(store, agent, 20);
    const finding = (await store.addFinding({ code: 'forged', severity: 'critical', site: 'plant-a', agent: 'gw-1', seq: 3, message: 'signal seq 3 | forged = bad\nsignature.', evidence: { key_id: 'k\\1' }, ts_ms: Date.now() + 60_000 }))!;
    const feed = new CentralFeed();
    const config = centralConfigSchema.parse({
      central: { id: 'central-a' },
      broker: { url: 'mqtt://127.0.0.1:1883' },
      // poll_ms long: what is stored later arrives only because the feed wakes the output.
      siem: [{ name: 'rs', host: '127.0.0.1', port: rs.port, hostname: 'central-host', facility: 'local3', structured_data: true, poll_ms: 600_000 }],
    });
    const { log, lines: logs } = captureLog();
    const metrics = new Registry();
    const part = await startSiem({ config, baseDir: dir, dataDir: dir, store, feed, log, version: '0.1.0', metrics });
    expect(part?.name).toBe('siem');
    cleanup.push(() => part!.stop());
    await rs.waitForLines(21);
    const later = await addSignals(store, agent, 5, feed);
    const lines = await rs.waitForLines(26);
    expect(ids(lines)).toEqual([...first.map((s) => s.signal.id), `finding-${finding.id}`, ...later.map((s) => s.signal.id)]);

    const sys = parse5424(lines[0]!);
    expect(sys).toMatchObject({ pri: 19 * 8 + 3, version: 1, hostname: 'central-host', app: 'otsentry', procid: String(process.pid), msgid: 'signal', sd: '[origin software="otsentry" swVersion="0.1.0"]' });
    const s1 = first[0]!.signal;
    expect(sys.timestamp).toBe(s1.ts);
    const c = parseCef(sys.msg);
    expect(c).toMatchObject({ version: '0', vendor: 'otsentry', product: 'otsentry', deviceVersion: '0.1.0', signatureId: 'level-range', name: s1.message, severity: '8' });
    expect(c.ext).toMatchObject({ rt: String(Date.parse(s1.ts)), dvchost: 'gw-1', dst: '127.0.0.1', dpt: '5020', cat: 'anomaly', act: 'raised', externalId: s1.id, msg: s1.message, cs1: 'plant-a', cs2: 'gw-1', cs3: 'plc-1', cs4: 'level', cs5: '1', cs6: JSON.stringify(s1.expected), cn1: '1', cn1Label: 'score', cn2: '1', cn2Label: 'seq' });

    const f = parseCef(parse5424(lines[20]!).msg);
    expect(parse5424(lines[20]!).msgid).toBe('finding');
    expect(parse5424(lines[20]!).pri).toBe(19 * 8 + 2);
    expect(f).toMatchObject({ signatureId: 'central.forged', severity: '10', name: 'signal seq 3 | forged = bad signature.' });
    expect(f.ext).toMatchObject({ dvchost: 'central-a', cat: 'integrity', msg: 'signal seq 3 | forged = bad\nsignature.', cs5: '{"key_id":"k\\\\1"}', cs5Label: 'evidence' });

    // rsyslog's own RFC 5424 parser found every header field and the CEF message.
    const parsed = (await rs.waitForLines(26, 5000, rs.parsed)).map((l) => l.split(SEP));
    expect(parsed[0]!.slice(0, 8)).toEqual([String(19 * 8 + 3), '1', s1.ts, 'central-host', 'otsentry', String(process.pid), 'signal', '[origin software="otsentry" swVersion="0.1.0"]']);
    expect(parsed[0]![8]).toBe(sys.msg);
    expect(parsed.every((p) => p[8]!.startsWith('CEF:0|otsentry|otsentry|0.1.0|'))).toBe(true);
    expect(logs.some((l) => /SIEM output rs connected to siem\[0\] \(rs\) at 127\.0\.0\.1:\d+; 21 events to send\./.test(l.msg))).toBe(true);
    const text = await metrics.metrics();
    expect(text).toContain('otsentry_central_siem_events_sent_total{output="rs"} 26');
    expect(text).toContain('otsentry_central_siem_connected{output="rs"} 1');
    expect(text).toMatch(/otsentry_central_siem_backlog_events\{output="rs"\} \d+/);
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`loses nothing when rsyslog is stopped (${signal}) mid-stream and restarted: at-least-once, in order`, async () => {
      const { rs, store } = await setup();
      const agent = new SimAgent('plant-a', 'gw-1');
      const feed = new CentralFeed();
      const { log, lines: logs } = captureLog();
      const out = makeOutput(store, outputConfig({ name: 'rs', port: rs.port, batch_size: 50, confirm_ms: 300, reconnect_min_ms: 20, reconnect_max_ms: 200 }), { log, feed });
      await out.start();
      cleanup.push(() => out.stop());
      const expected: string[] = [];
      // A steady producer (paced, not a synchronisation): the stream flows while rsyslog goes away.
      let producing = true;
      const producer = (async () => {
        while (producing) {
          expected.push(...(await addSignals(store, agent, 10, feed)).map((s) => s.signal.id));
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      cleanup.push(async () => {
        producing = false;
        await producer;
      });
      await rs.waitForLines(300);
      await rs.stop(signal);
      await until(() => !out.stats.connected, 'the output to notice rsyslog is gone');
      const seen = rs.lines().length;
      const atStop = expected.length;
      await until(() => expected.length >= atStop + 500, '500 more signals stored while rsyslog is down');
      await rs.restart();
      await until(() => rs.lines().length >= seen + 300, 'lines after the restart');
      producing = false;
      await producer;
      // With confirm_ms: 0 (cursor moved as soon as the bytes were flushed) this fails: rsyslog
      // drops what sat unread in its socket when it stops, and those events never come again.
      await until(() => new Set(ids(rs.lines())).size === expected.length, `every signal in rsyslog (${expected.length})`, 30_000);
      const got = ids(rs.lines());
      const { duplicates } = assertAtLeastOnceInOrder(got, expected);
      expect(seen).toBeLessThan(expected.length);
      expect(duplicates).toBeGreaterThanOrEqual(0);
      expect(out.stats.disconnects).toBeGreaterThanOrEqual(1);
      expect(logs.some((l) => l.level === 50 && /SIEM output rs is down: .* events wait in the store and are sent when it is back\./.test(l.msg))).toBe(true);
      expect(logs.some((l) => l.level === 40 && /SIEM output rs is back .* after [\d.]+ s; sending a backlog of \d+ events\./.test(l.msg))).toBe(true);
      await until(async () => (await out.backlog()) === 0, 'the cursor to reach the end');
    }, 90_000);
  }

  it('resumes from the cursor after the output restarts (a central restart)', async () => {
    const { rs, store } = await setup();
    const agent = new SimAgent('plant-a', 'gw-1');
    const cfg = outputConfig({ name: 'rs', port: rs.port, batch_size: 7 });
    const a = makeOutput(store, cfg);
    const first = await addSignals(store, agent, 40);
    await a.start();
    await rs.waitForLines(40);
    await a.stop();
    // rsyslog read up to our FIN and closed cleanly: everything sent is confirmed.
    expect(await store.getCursor(cursorNames('rs').signals)).toBe(first.at(-1)!.arrival);
    const second = await addSignals(store, agent, 30);
    const b = makeOutput(store, cfg);
    await b.start();
    cleanup.push(() => b.stop());
    const lines = await rs.waitForLines(70);
    await until(async () => (await b.backlog()) === 0, 'the cursor to reach the end');
    expect(ids(rs.lines())).toEqual([...first, ...second].map((s) => s.signal.id));
    expect(lines.length).toBe(70);
  });

  it('starts at the newest for start_at: newest, skips below min_severity, and advances its cursor past them', async () => {
    const { rs, store } = await setup();
    const agent = new SimAgent('plant-a', 'gw-1');
    await addSignals(store, agent, 10);
    await store.addFinding({ code: 'offline', severity: 'medium', message: 'old.', ts_ms: 1 });
    const feed = new CentralFeed();
    const out = makeOutput(store, outputConfig({ name: 'rs', port: rs.port, start_at: 'newest', min_severity: 'medium' }), { feed });
    await out.start();
    cleanup.push(() => out.stop());
    const fresh = await addSignals(store, agent, 10, feed); // severities alternate high, low
    const f = (await store.addFinding({ code: 'stalled', severity: 'high', message: 'new.', ts_ms: Date.now() + 1000 }))!;
    feed.emit('finding', f);
    await rs.waitForLines(6);
    await until(async () => (await out.backlog()) === 0, 'the cursor to reach the end');
    expect(ids(rs.lines())).toEqual([...fresh.filter((s) => s.signal.severity === 'high').map((s) => s.signal.id), `finding-${f.id}`]);
  });
});
