// Fault suite: random and mutated Modbus answers (Modbus TCP MBAP and RTU frames) fed to the native
// link over loopback TCP, so every byte goes through the real receive path and parsers. Counts each
// outcome: a rejection by error code, or an accepted answer (identical to the true one, or a
// well-formed answer with other values: a mutation that happened to be valid). The soak section
// feeds 1,000,000; test/protocols/modbus/fuzz.test.ts runs a short version.
import { ModbusError } from '../../protocols/modbus/errors.js';
import { parseDeviceIdAnswer } from '../../protocols/modbus/facts.js';
import type { ModbusLink } from '../../protocols/modbus/link.js';
import { ModbusSerialLink } from '../../protocols/modbus/modbus-serial-link.js';
import { tcpLink } from '../../protocols/modbus/tcp-link.js';
import { prng, randomRequest, startFuzzPeer, trueAnswer, type FuzzFraming } from './modbus-fuzz-peer.js';
import type { SoakSection } from './sections.js';

export interface FuzzOptions {
  framing: FuzzFraming;
  /** Modbus TCP only: the native link (default) or the modbus-serial fallback */
  client?: 'native' | 'modbus-serial';
  /** answers to feed (one per request) */
  responses: number;
  /** links polling the peer at once (timeouts overlap) */
  concurrency: number;
  seed: number;
  timeoutMs: number;
  /** called about every `every` answers */
  progress?: (fed: number) => void;
  every?: number;
}

export interface FuzzResult {
  framing: FuzzFraming;
  client: 'native' | 'modbus-serial';
  fed: number;
  seconds: number;
  /** accepted_identical, accepted_altered, or the error code of the rejection */
  outcomes: Record<string, number>;
  /** rejections that were not a ModbusError with a code (must be 0) */
  notModbusErrors: number;
  /** accepted answers that do not fit their request by an independent check (must be 0) */
  acceptedMisfits: number;
  /** uncaught exceptions and unhandled rejections while feeding (must be 0) */
  uncaught: number;
  connectionsDropped: number;
  /** reconnects that failed (connect timeout under load) and were tried again */
  openFailures: number;
  /** answers the peer sent, by mutation */
  mutations: Record<string, number>;
  /** outcomes by the mutation of the last answer the link's unit was sent */
  byMutation: Record<string, Record<string, number>>;
  heapStartMb: number;
  peakHeapMb: number;
  peakRssMb: number;
}

/** Does an accepted answer fit its request? Checked apart from the link's own checks. */
function fits(req: Buffer, res: Buffer): boolean {
  const truth = trueAnswer(req);
  if (req[0] === 43) {
    try {
      parseDeviceIdAnswer(res);
    } catch {
      return false;
    }
    return res[2] === req[2];
  }
  if (req[0] === 8) return res.length === 5 && res[0] === 8 && res[1] === req[1] && res[2] === req[2];
  return res.length === truth.length && res[0] === truth[0] && res[1] === truth[1];
}

const mb = (n: number): number => Math.round((n / 1048576) * 10) / 10;

export async function runModbusFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  if (opts.concurrency > 247) throw new RangeError('concurrency: at most 247 links (one unit id each)');
  const peer = await startFuzzPeer(opts.framing, opts.seed);
  const outcomes: Record<string, number> = {};
  const byMutation: Record<string, Record<string, number>> = {};
  const count = (k: string, unit: number): void => {
    outcomes[k] = (outcomes[k] ?? 0) + 1;
    const m = peer.lastMutation.get(unit) ?? 'none';
    const row = (byMutation[m] ??= {});
    row[k] = (row[k] ?? 0) + 1;
  };
  let fed = 0;
  let notModbusErrors = 0;
  let acceptedMisfits = 0;
  let uncaught = 0;
  let dropped = 0;
  let openFailures = 0;
  const onUncaught = (): void => {
    uncaught++;
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const heapStart = process.memoryUsage().heapUsed;
  let peakHeap = heapStart;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  }, 100);
  const every = opts.every ?? 100_000;
  const t0 = performance.now();

  const worker = async (w: number): Promise<void> => {
    const rnd = prng(opts.seed * 7919 + w);
    const unit = 1 + w;
    const link: ModbusLink =
      opts.client === 'modbus-serial'
        ? new ModbusSerialLink('127.0.0.1', peer.port, { unitId: unit, timeoutMs: opts.timeoutMs })
        : tcpLink({ host: '127.0.0.1', port: peer.port, framing: opts.framing, unitId: unit, timeoutMs: opts.timeoutMs });
    link.onLost = () => {
      dropped++;
    };
    try {
      while (fed < opts.responses) {
        if (!link.isOpen()) {
          try {
            await link.open();
          } catch {
            openFailures++; // many links reconnecting at once on a loaded machine; try again
            continue;
          }
          if (fed >= opts.responses) break;
        }
        const req = randomRequest(rnd);
        fed++;
        if (opts.progress && fed % every === 0) opts.progress(fed);
        try {
          const res = await link.exchange(req);
          if (!fits(req, res)) acceptedMisfits++;
          count(res.equals(trueAnswer(req)) ? 'accepted_identical' : 'accepted_altered', unit);
        } catch (e) {
          if (e instanceof ModbusError && typeof e.code === 'string') count(e.code, unit);
          else notModbusErrors++;
        }
      }
    } finally {
      await link.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  } finally {
    clearInterval(sampler);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await peer.close();
  }
  const m = process.memoryUsage();
  return {
    framing: opts.framing,
    client: opts.client ?? 'native',
    fed,
    seconds: (performance.now() - t0) / 1000,
    outcomes,
    notModbusErrors,
    acceptedMisfits,
    uncaught,
    connectionsDropped: dropped,
    openFailures,
    mutations: peer.sent,
    byMutation,
    heapStartMb: mb(heapStart),
    peakHeapMb: mb(Math.max(peakHeap, m.heapUsed)),
    peakRssMb: mb(Math.max(peakRss, m.rss)),
  };
}

/** The figures of one run as lines. */
export function describeFuzz(r: FuzzResult): string[] {
  const sorted = (o: Record<string, number>): string =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return [
    `${r.framing}${r.client === 'native' ? '' : ` (${r.client})`}: ${r.fed} answers in ${r.seconds.toFixed(1)} s = ${Math.round(r.fed / r.seconds)} answers/s; ${r.connectionsDropped} connections dropped by the link, ${r.openFailures} reconnects retried`,
    `  outcomes: ${sorted(r.outcomes)}`,
    ...Object.entries(r.byMutation)
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([m, o]) => `  ${m} (${r.mutations[m] ?? 0} sent): ${sorted(o)}`),
    `  not a ModbusError ${r.notModbusErrors}, accepted but not fitting ${r.acceptedMisfits}, uncaught ${r.uncaught}`,
    `  heap ${r.heapStartMb} MB at start, peak ${r.peakHeapMb} MB; peak RSS ${r.peakRssMb} MB`,
  ];
}

/** The invariants: nothing crashed or escaped, every answer has an outcome, memory stayed bounded. */
export function fuzzHolds(r: FuzzResult, heapGrowthMb: number): boolean {
  const total = Object.values(r.outcomes).reduce((a, b) => a + b, 0) + r.notModbusErrors;
  return r.uncaught === 0 && r.notModbusErrors === 0 && r.acceptedMisfits === 0 && total === r.fed && r.peakHeapMb - r.heapStartMb < heapGrowthMb;
}

export const modbusFuzzSection: SoakSection = {
  name: 'modbus-fuzz',
  title: '1,000,000 random and mutated Modbus answers (Modbus TCP and RTU framing) fed to the native link, 50,000 to the modbus-serial fallback',
  async run(say) {
    let ok = true;
    // 500,000 per framing through the native link, then the modbus-serial fallback on top.
    for (const [framing, client, responses, concurrency, seed] of [
      ['mbap', 'native', 500_000, 100, 1],
      ['rtu', 'native', 500_000, 100, 2],
      ['mbap', 'modbus-serial', 50_000, 20, 3],
    ] as const) {
      const progress = (n: number): void => say(`${framing} (${client}): ${n} fed`);
      const r = await runModbusFuzz({ framing, client, responses, concurrency, seed, timeoutMs: 200, progress });
      for (const line of describeFuzz(r)) say(line);
      ok = fuzzHolds(r, 100) && ok;
    }
    return ok;
  },
};
