// The Poller contract (protocols/types.ts), as one suite every implementation runs (like
// MQTT.js's abstract_store test): a function that takes a factory of a device under test and its
// pollers. What it asserts holds for every protocol and transport:
// - the surface is read-only: no method whose name could change a device, and every request the
//   device saw is a read (by the protocol's own numbers, not the agent's allow-list);
// - poll() never throws: up, down, unreachable, closed, aborted, called concurrently;
// - while the device is down every sample is bad, with a reason and a coded error; then it recovers;
// - a connect to nothing rejects with a coded error, and poll() reports the same code;
// - close() is idempotent (before connect, twice, concurrently) and a closed poller can poll again.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PollErrorCode, PollResult, Poller } from '../../../protocols/types.js';

/** Every PollErrorCode (protocols/types.ts): an error with another code breaks the contract. */
export const POLL_ERROR_CODES: readonly PollErrorCode[] = [
  'timeout',
  'connect_refused',
  'connection_lost',
  'modbus_exception',
  'bad_response',
  'not_connected',
  'aborted',
  'request_refused',
  'security',
  'opcua_status',
  'unknown',
];

/** The device under test, started by the implementation's factory. */
export interface DeviceUnderTest {
  /** 'modbus' or 'opcua': selects the read-only request table the device's requests are checked against */
  protocol: 'modbus' | 'opcua';
  /** A new poller for the device (the suite closes it). */
  poller(): Poller;
  /** tag names one poll reports on, whatever their order */
  tags: readonly string[];
  /** A poller for a device of the same kind where nothing answers (nothing listens, no such port). */
  unreachable(): Poller;
  /** the code a connect to the unreachable device rejects with */
  unreachableCode: PollErrorCode;
  /** Take the device away (closed port, silent line) and bring it back. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Every request the device received so far, in its protocol's terms ("FC03", "FC08/000b", "ReadRequest"). */
  requests(): string[];
  stop(): Promise<void>;
}

/** Modbus reads: FC01-04, the FC08 counter reads 0x0B-0x12, FC43/14 device identification (DESIGN.md, Invariants). */
function modbusRead(kind: string): boolean {
  if (/^FC0[1-4]$/.test(kind)) return true;
  const diag = /^FC08\/([0-9a-f]{4})$/.exec(kind);
  if (diag) return Number.parseInt(diag[1], 16) >= 0x0b && Number.parseInt(diag[1], 16) <= 0x12;
  return kind === 'FC43/0e';
}
/** OPC UA services that read, browse, subscribe or discover; Write, Call, node management are not among them. */
const OPCUA_READS = new Set([
  'GetEndpointsRequest',
  'FindServersRequest',
  'CreateSessionRequest',
  'ActivateSessionRequest',
  'CloseSessionRequest',
  'ReadRequest',
  'BrowseRequest',
  'BrowseNextRequest',
  'TranslateBrowsePathsToNodeIdsRequest',
  'CreateSubscriptionRequest',
  'ModifySubscriptionRequest',
  'SetPublishingModeRequest',
  'CreateMonitoredItemsRequest',
  'DeleteMonitoredItemsRequest',
  'PublishRequest',
  'RepublishRequest',
  'DeleteSubscriptionsRequest',
]);
const isRead = (protocol: DeviceUnderTest['protocol'], kind: string): boolean => (protocol === 'modbus' ? modbusRead(kind) : OPCUA_READS.has(kind));

/** The names a Poller may have besides private helpers; none of them may sound like a write. */
const WRITE_LIKE = /write|call|method|send|exec|force|preset|mask|restart|reset|clear|command/i;

/** Every property name of an object and its prototype chain (own, inherited, non-enumerable). */
function allNames(obj: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = obj; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) for (const k of Reflect.ownKeys(o)) names.add(String(k));
  return [...names];
}

/** A poll that settles; a rejection fails the test with what it threw. */
async function pollOnce(p: Poller, signal?: AbortSignal): Promise<PollResult> {
  const r = await p.poll(signal).then(
    (x) => ({ ok: true as const, x }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (!r.ok) throw new Error(`poll() threw: ${String((r.e as Error)?.stack ?? r.e)}`);
  expect(r.x).toMatchObject({ samples: expect.any(Array), facts: expect.any(Array), errors: expect.any(Array), requests: expect.any(Number) });
  for (const e of r.x.errors) expect(POLL_ERROR_CODES, `error code of "${e.message}"`).toContain(e.code);
  return r.x;
}

const summary = (r: PollResult): string => JSON.stringify({ errors: r.errors.map((e) => `${e.code}: ${e.message}`), samples: r.samples.map((s) => `${s.tag}=${String(s.value)}/${s.quality}/${s.reason ?? ''}`) });
const allGood = (r: PollResult, tags: readonly string[]): boolean =>
  r.errors.length === 0 && tags.every((t) => r.samples.some((s) => s.tag === t)) && r.samples.every((s) => s.quality === 'good');
const allBad = (r: PollResult, tags: readonly string[]): boolean =>
  r.errors.length > 0 && tags.every((t) => r.samples.some((s) => s.tag === t)) && r.samples.every((s) => s.quality === 'bad' && s.value === null && !!s.reason);

/**
 * Poll until pred holds, at most `polls` times. Each poll is a real request (or a real failure),
 * so this waits for the condition, not for time; `spacingMs` only keeps a reconnect loop gentle.
 */
async function pollUntil(p: Poller, pred: (r: PollResult) => boolean, what: string, polls = 200, spacingMs = 20): Promise<PollResult> {
  let last: PollResult | undefined;
  for (let i = 0; i < polls; i++) {
    last = await pollOnce(p);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, spacingMs));
  }
  throw new Error(`${what}: not seen in ${polls} polls; last poll ${last ? summary(last) : 'none'}`);
}

export function pollerContract(name: string, start: () => Promise<DeviceUnderTest>): void {
  describe(`Poller contract: ${name}`, () => {
    let dut: DeviceUnderTest;
    const opened: Poller[] = [];
    const make = (unreachable = false): Poller => {
      const p = unreachable ? dut.unreachable() : dut.poller();
      opened.push(p);
      return p;
    };

    beforeAll(async () => {
      dut = await start();
    });
    // Each test closes its pollers: a serial port takes one poller at a time.
    afterEach(async () => {
      for (const p of opened.splice(0)) await p.close();
    });
    afterAll(async () => {
      await dut?.stop();
    });

    it('exposes nothing that could write: only the Poller methods, no write-like name on its surface', () => {
      const p = make();
      const names = allNames(p);
      for (const m of ['connect', 'poll', 'readFacts', 'isConnected', 'close'] as const) expect(typeof p[m], m).toBe('function');
      expect(typeof p.device).toBe('string');
      expect(p.requestsPerPoll).toBeGreaterThanOrEqual(0);
      expect(names.filter((n) => WRITE_LIKE.test(n))).toEqual([]);
    });

    it('reads every tag with good quality while the device is up', async () => {
      const p = make();
      const r = await pollUntil(p, (x) => allGood(x, dut.tags), 'every tag good');
      expect(new Set(r.samples.map((s) => s.tag))).toEqual(new Set(dut.tags));
      for (const s of r.samples) expect(s).toMatchObject({ device: p.device, quality: 'good', ts: expect.any(Number), rtt_ms: expect.any(Number) });
      expect(p.isConnected()).toBe(true);
    });

    it('poll() never throws: concurrent polls, an aborted signal, a fact read in between, after close', async () => {
      const p = make();
      const results = await Promise.all([pollOnce(p), pollOnce(p), p.readFacts(['identity', 'diagnostics']), pollOnce(p)]);
      // (A subscription may have nothing to hand out yet right after its connect: no samples, no errors.)
      for (const r of [results[0], results[1], results[3]] as PollResult[]) for (const s of r.samples) expect(dut.tags).toContain(s.tag);
      const ac = new AbortController();
      ac.abort();
      await pollOnce(p, ac.signal);
      await p.close();
      await pollOnce(p); // a closed poller polls again (it reconnects) or reports why not
    });

    it('marks every sample bad while the device is down, with a coded error, and recovers when it is back', async () => {
      const p = make();
      await pollUntil(p, (x) => allGood(x, dut.tags), 'every tag good before the outage');
      await dut.down();
      try {
        // The first polls may still see the connection go (or drain what arrived before it went).
        const first = await pollUntil(p, (x) => x.errors.length > 0, 'the outage');
        const outage = [first, await pollOnce(p), await pollOnce(p), await pollOnce(p)];
        for (const r of outage) expect(allBad(r, dut.tags), `a poll during the outage: ${summary(r)}`).toBe(true);
        expect(outage.at(-1)!.errors.map((e) => e.code).filter((c) => !['connect_refused', 'connection_lost', 'timeout', 'not_connected'].includes(c))).toEqual([]);
      } finally {
        await dut.up();
      }
      await pollUntil(p, (x) => allGood(x, dut.tags), 'every tag good after the outage');
    });

    it('a connect to nothing rejects with a coded error, and poll() reports that code on bad samples', async () => {
      const p = make(true);
      await expect(p.connect()).rejects.toMatchObject({ code: dut.unreachableCode, message: expect.any(String) });
      expect(p.isConnected()).toBe(false);
      const r = await pollOnce(p);
      expect(r.errors.map((e) => e.code)).toEqual([dut.unreachableCode]);
      expect(allBad(r, dut.tags), summary(r)).toBe(true);
      expect(r.samples.every((s) => s.reason === dut.unreachableCode)).toBe(true);
    });

    it('close() is idempotent: before connect, twice, concurrently; a closed poller connects again', async () => {
      const p = make();
      await p.close();
      await p.connect();
      expect(p.isConnected()).toBe(true);
      await p.close();
      await p.close();
      expect(p.isConnected()).toBe(false);
      await p.connect();
      await Promise.all([p.close(), p.close()]);
      expect(p.isConnected()).toBe(false);
      await pollUntil(p, (x) => allGood(x, dut.tags), 'every tag good after close and reconnect');
      await p.close();
      const unreachable = make(true);
      await unreachable.close();
      await unreachable.close();
    });

    it('the device received only reads (by the protocol numbers, not the agent allow-list)', async () => {
      // Runs last: everything the suite did to this device (polls, facts, outage, reconnects).
      const p = make();
      await pollOnce(p);
      await p.readFacts(['identity', 'diagnostics']);
      const seen = dut.requests();
      expect(seen.length).toBeGreaterThan(0);
      expect([...new Set(seen)].filter((k) => !isRead(dut.protocol, k))).toEqual([]);
    });
  });
}
