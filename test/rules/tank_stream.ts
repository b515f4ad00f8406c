// A synthetic tank PLC as the rule engine sees it: one poll per second of samples and facts,
// with the simulator's attack scenarios applied to the stream (no sockets, deterministic).
import type { Fact, Sample } from '../../protocols/types.js';

export const TANK_TAG_NAMES = [
  'pump_cmd', 'alarm_horn', 'pump_running', 'level_high_alarm', 'level_low_alarm', 'level', 'flow_rate', 'outflow_rate', 'pressure',
  'temperature', 'level_mm', 'heartbeat', 'pump_starts', 'firmware_version', 'mode', 'valve_position', 'level_high_sp', 'level_low_sp',
  'outflow_sp', 'pid_kp', 'pid_ki', 'pid_kd', 'alarm_high', 'alarm_low', 'config_word',
];

export type Scenario = 'none' | 'setpoint-tamper' | 'firmware-swap' | 'sensor-spoof' | 'sensor-freeze' | 'pump-toggle' | 'plc-offline' | 'slow-plc' | 'foreign-master' | 'malformed';

export interface Poll {
  samples: Sample[];
  facts: Fact[];
}

/** Deterministic gaussian noise (mulberry32 + Box-Muller). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
}

export class TankStream {
  private level = 2.5;
  private fill = true;
  private heartbeat = 0;
  private starts = 0;
  private wasOn = false;
  private commErrors = 0;
  private bus = 0;
  private agentRequests = 0;
  private frozen: { level: number; flow: number } | undefined;
  private readonly g: () => number;
  /** plant seconds per poll (time_scale); 10 makes the pump cycle about every 25 polls */
  constructor(
    readonly device = 'tank1',
    private readonly scale = 10,
    seed = 42,
    readonly t0 = Date.parse('2025-03-01T08:00:00Z'),
  ) {
    this.g = rng(seed);
  }

  /** Poll number i (1 s apart) under a scenario that started at poll `since`. */
  poll(i: number, scenario: Scenario, since: number): Poll {
    const g = this.g;
    const k = i - since; // polls into the attack
    const ts = this.t0 + i * 1000;
    let forced: boolean | null = null;
    if (scenario === 'pump-toggle') forced = k % 2 === 0 ? !this.fill : this.fill;
    // plant step
    if (this.level <= 1.5) this.fill = true;
    else if (this.level >= 3.5) this.fill = false;
    const pumpOn = forced ?? this.fill;
    const inflow = pumpOn ? 12.5 - 0.3 * this.level : 0;
    const outflow = 6 + 0.05 * g();
    this.level += ((inflow - outflow) / 3600 / 0.2) * this.scale;
    this.heartbeat = (this.heartbeat + 10) & 0xffff;
    if (pumpOn && !this.wasOn) this.starts++;
    this.wasOn = pumpOn;

    let level = this.level + 0.002 * g();
    let flow = pumpOn ? inflow + 0.08 * g() : Math.abs(0.01 * g());
    if (scenario === 'sensor-spoof') level = [9, level + 1.56, -1.4, level - 1.56][Math.floor(k / 2) % 4];
    if (scenario === 'sensor-freeze') {
      this.frozen ??= { level, flow };
      level = this.frozen.level;
      flow = this.frozen.flow;
    } else this.frozen = undefined;
    if (scenario === 'pump-toggle' && k % 4 === 2) flow = Math.abs(0.01 * g());
    if (scenario === 'pump-toggle' && k % 4 === 3) flow = 11.8 + 0.08 * g();

    const tamper = scenario === 'setpoint-tamper';
    const values: Record<string, number | boolean> = {
      pump_cmd: pumpOn,
      alarm_horn: false,
      pump_running: pumpOn,
      level_high_alarm: false,
      level_low_alarm: false,
      level: Math.fround(level),
      flow_rate: Math.fround(flow),
      outflow_rate: Math.fround(outflow),
      pressure: Math.fround((pumpOn ? 2.2 : 0) + 0.0981 * this.level + 0.015 * g()),
      temperature: Math.round((20 + 0.08 * g()) * 10) / 10,
      level_mm: Math.round(level * 1000),
      heartbeat: this.heartbeat,
      pump_starts: this.starts,
      firmware_version: scenario === 'firmware-swap' ? 250 : 241,
      mode: 1,
      valve_position: 55,
      level_high_sp: Math.fround(tamper ? 4.8 : 3.5),
      level_low_sp: Math.fround(1.5),
      outflow_sp: Math.fround(6),
      pid_kp: Math.fround(tamper ? 20 : 4),
      pid_ki: Math.fround(0.5),
      pid_kd: 0,
      alarm_high: Math.fround(4.5),
      alarm_low: Math.fround(0.5),
      config_word: 259,
    };

    const offline = scenario === 'plc-offline';
    const rtt = scenario === 'slow-plc' ? 250 + 20 * g() : 2 + 0.3 * Math.abs(g());
    const requests = 6;
    this.agentRequests += requests;
    const facts: Fact[] = [];
    const samples: Sample[] = offline
      ? TANK_TAG_NAMES.map((tag) => ({ device: this.device, tag, value: null, quality: 'bad' as const, ts, rtt_ms: 0 }))
      : TANK_TAG_NAMES.map((tag) => ({ device: this.device, tag, value: values[tag], quality: 'good' as const, ts, rtt_ms: rtt }));
    if (!offline) {
      this.bus += requests + 8 + (scenario === 'foreign-master' ? 50 : 0);
      this.agentRequests += 8;
      facts.push({
        device: this.device,
        kind: 'diagnostics',
        ts: ts + 20,
        data: {
          bus_message_count: this.bus & 0xffff,
          server_message_count: this.bus & 0xffff,
          bus_comm_error_count: (this.commErrors += scenario === 'malformed' ? 1 : 0),
          bus_exception_error_count: 0,
          agent_requests_total: this.agentRequests,
          agent_exception_answers_total: 0,
        },
      });
      if (i % 5 === 0 || k === 0) {
        facts.push({ device: this.device, kind: 'identity', ts: ts + 25, data: { vendor: 'otsentry simulators', product_code: 'OTS-TANK-1', revision: scenario === 'firmware-swap' ? '2.5.0-unsigned' : '2.4.1' } });
      }
    }
    facts.push({
      device: this.device,
      kind: 'link',
      ts: ts + 30,
      data: {
        reachable: !offline,
        rtt_ms: offline ? null : rtt,
        error_code: offline ? 'connect_refused' : scenario === 'malformed' ? 'bad_response' : undefined,
        exception_codes: [],
        bad_responses: scenario === 'malformed' ? 2 : 0,
        consecutive_failures: 0,
      },
    });
    return { samples, facts };
  }
}
