// A simulated Modbus PLC polled by the real agent stages on a virtual clock: the tank model and
// its attack scenarios (simulators/modbus), the real Modbus poller over a link that hands each
// request PDU to the PLC's own request handler (no sockets), the real scheduler, and the agent's
// cycle judge (rules and the alert lifecycle), whose drafts are collected. Plant time, sample
// timestamps, round-trip times, response delays, timeouts and scheduled scenario steps all run on
// one clock that advances only when something waits, so a run is exact and as fast as the CPU.
import { AlertManager } from '../../rules/alerts/index.js';
import type { AgentConfig } from '../../agent/config/schema.js';
import { DeviceScheduler, type Clock } from '../../agent/scheduler.js';
import { silentLogger } from '../../protocols/log.js';
import type { ModbusDeviceConfig } from '../../protocols/modbus/config.js';
import { ModbusError } from '../../protocols/modbus/errors.js';
import { checkResponse } from '../../protocols/modbus/frame.js';
import type { ModbusLink } from '../../protocols/modbus/link.js';
import { createModbusPoller } from '../../protocols/modbus/poller.js';
import { RuleEngine } from '../../rules/index.js';
import { CycleJudge } from '../../rules/judge/index.js';
import type { SignalDraft } from '../../rules/signal.js';
import { encodeAdu } from '../../simulators/modbus/framing.js';
import type { Plc } from '../../simulators/modbus/plc.js';

/** Something to do at a virtual time (start or stop a scenario). */
export interface Step {
  at: number;
  run: () => Promise<void> | void;
}

/** The virtual clock: epoch ms that move only through advance(), which steps the plant with them. */
export class VirtualTime {
  now: number;
  private steps: Step[] = [];

  constructor(
    start: number,
    private readonly plc: Plc,
  ) {
    this.now = start;
  }

  schedule(step: Step): void {
    this.steps = [...this.steps, step].sort((a, b) => a.at - b.at);
  }

  /** Move on by ms: the plant steps in its own ticks, and every step due meanwhile runs at its time. */
  async advance(ms: number): Promise<void> {
    const end = this.now + Math.max(0, ms);
    const tick = this.plc.config.tick_ms;
    while (this.now < end) {
      const next = this.steps[0];
      if (next && next.at <= this.now) {
        this.steps.shift();
        await next.run();
        continue;
      }
      const by = Math.min(tick, end - this.now, next ? next.at - this.now : Infinity);
      this.plc.step(by);
      this.now += by;
    }
    while (this.steps[0] && this.steps[0].at <= this.now) await this.steps.shift()!.run();
  }

  clock(): Clock {
    return { now: () => this.now, sleep: (ms) => this.advance(ms) };
  }
}

/**
 * The PLC as a Modbus TCP link: the same PDUs and the same server-side hooks the TCP server uses
 * (offline, response filters, response delay), answered on the virtual clock. What a corrupted
 * answer does follows the native client: a wrong transaction id is not an answer (the request
 * times out), a truncated or over-long frame is waited on until the timeout, anything else that
 * does not fit is a bad_response.
 */
export function virtualLink(plc: Plc, dev: ModbusDeviceConfig, time: VirtualTime): ModbusLink {
  let open = false;
  let tid = 0;
  const link: ModbusLink = {
    describe: `virtual ${plc.id}`,
    isOpen: () => open && !plc.offline,
    open: async () => {
      if (plc.offline) {
        await time.advance(0);
        throw new ModbusError('connect_refused', `virtual ${plc.id}: connection refused`);
      }
      open = true;
    },
    exchange: async (pdu) => {
      if (!open) throw new ModbusError('not_connected', 'not connected');
      if (plc.offline) {
        open = false;
        const err = new ModbusError('connection_lost', `virtual ${plc.id}: connection reset`);
        link.onLost?.(err);
        throw err;
      }
      tid = (tid + 1) & 0xffff;
      const timeout = async (why: string): Promise<never> => {
        await time.advance(dev.timeout_ms);
        throw new ModbusError('timeout', `no answer within ${dev.timeout_ms} ms (${why})`);
      };
      const res = plc.handleFrame(dev.unit_id, pdu);
      if (!res) return timeout('silent');
      const adu = plc.transformResponse(encodeAdu('tcp', dev.unit_id, tid, res), 'tcp');
      if (!adu) return timeout('dropped');
      const delay = plc.responseDelayMs();
      if (delay >= dev.timeout_ms) return timeout('slow');
      await time.advance(delay);
      // The checks and their order of the native client (stream-link.ts, #takeMbap).
      if (adu.length < 7) return timeout('incomplete frame');
      const len = adu.readUInt16BE(4);
      if (adu.readUInt16BE(2) !== 0 || len < 2 || len > 254) {
        // A Modbus TCP stream cannot resync after a bad header: the client drops the connection.
        open = false;
        const err = new ModbusError('bad_response', `virtual ${plc.id}: answer is not a Modbus TCP frame`);
        link.onLost?.(err);
        throw err;
      }
      if (adu.length < 6 + len) return timeout('incomplete frame');
      if (adu.readUInt16BE(0) !== tid) return timeout('another transaction id');
      if (adu[6] !== dev.unit_id) throw new ModbusError('bad_response', `virtual ${plc.id}: answer from unit ${adu[6]}`);
      const answer = adu.subarray(7, 6 + len);
      checkResponse(pdu, answer);
      return answer;
    },
    abort: () => undefined,
    close: async () => {
      open = false;
    },
  };
  return link;
}

export interface VirtualRun {
  signals: SignalDraft[];
  cycles: number;
}

/** Poll the config's first device (the PLC) from time.now until `until`, judging with the config's rules. */
export async function runVirtual(config: AgentConfig, plc: Plc, time: VirtualTime, until: number): Promise<VirtualRun> {
  const device = config.devices[0];
  if (device.protocol !== 'modbus') throw new Error('a virtual plant run needs a Modbus device first in the config');
  const signals: SignalDraft[] = [];
  const judge = new CycleJudge(new RuleEngine(config.rules, config.devices), new AlertManager(config.alerts));
  const poller = createModbusPoller(device, { link: virtualLink(plc, device, time), now: () => time.now, monotonic: () => time.now });
  let scheduler: DeviceScheduler | undefined;
  let ended = false;
  const done = new Promise<void>((resolve) => {
    scheduler = new DeviceScheduler(
      poller,
      device,
      (out) => {
        signals.push(...judge.judge(out));
        if (time.now >= until && !ended) {
          ended = true;
          resolve();
        }
      },
      silentLogger,
      time.clock(),
    );
  });
  scheduler!.start();
  await done;
  await scheduler!.stop();
  return { signals, cycles: judge.counts.cycles };
}
