// The tank plant: a level-controlled tank filled by a pump and drained through a PID-controlled valve.
// Deterministic for a given seed; measurements carry noise so no live reading ever sticks.
import { z } from 'zod';
import type { RegisterImage } from '../image.js';
import type { Rng } from '../rng.js';
import { findTag, readTag, writeTag, type TagDef } from '../tags.js';
import { firmwareNumber, type ModelIo, type ProcessModel } from './types.js';

export const tankParamsSchema = z
  .object({
    type: z.literal('tank'),
    word_order: z.enum(['big', 'little']).default('big').describe('32-bit values: big = high word first'),
    time_scale: z.number().min(0.1).max(100).default(1).describe('Plant seconds per wall-clock second (10 = ten times faster)'),
    tank_area_m2: z.number().min(0.05).max(10).default(0.2).describe('Tank cross-section; smaller fills faster'),
    initial_level_m: z.number().min(0).max(5).default(2).describe('Level at start'),
  })
  .strict();
export type TankParams = z.infer<typeof tankParamsSchema>;

export const MODE_MANUAL = 0;
export const MODE_AUTO = 1;
export const MODE_MAINTENANCE = 2;

const TANK_HEIGHT_M = 5;
const VALVE_CV = 7.6; // outflow m3/h = CV * valve/100 * sqrt(level)

/** The register map. Addresses are zero-based. */
export function tankTags(wordOrder: 'big' | 'little' = 'big'): TagDef[] {
  const f32 = (area: TagDef['area'], address: number, name: string, unit: string, description: string, normal: [number, number], live = false): TagDef => ({
    name, area, address, type: 'float32', word_order: wordOrder, unit, description, normal, ...(live ? { live } : {}),
  });
  return [
    { name: 'pump_cmd', area: 'coil', address: 0, type: 'bool', description: 'Inflow pump run command (written by the level controller in auto mode)' },
    { name: 'alarm_horn', area: 'coil', address: 1, type: 'bool', description: 'Level alarm horn output', normal: [0, 0] },
    { name: 'pump_running', area: 'discrete_input', address: 0, type: 'bool', description: 'Pump run feedback from the motor contactor' },
    { name: 'level_high_alarm', area: 'discrete_input', address: 1, type: 'bool', description: 'Level above alarm_high', normal: [0, 0] },
    { name: 'level_low_alarm', area: 'discrete_input', address: 2, type: 'bool', description: 'Level below alarm_low', normal: [0, 0] },
    f32('input_register', 0, 'level', 'm', 'Tank level', [1.2, 3.8], true),
    f32('input_register', 2, 'flow_rate', 'm3/h', 'Pump discharge flow meter: above 10 while the pump runs, below 0.1 otherwise', [0, 13.5], true),
    f32('input_register', 4, 'outflow_rate', 'm3/h', 'Outlet flow through the valve', [4.5, 7.5], true),
    f32('input_register', 6, 'pressure', 'bar', 'Pump discharge pressure', [0, 3], true),
    { name: 'temperature', area: 'input_register', address: 8, type: 'int16', scale: 0.01, unit: 'degC', description: 'Liquid temperature (raw = 0.01 degC)', normal: [17, 23], live: true },
    { name: 'level_mm', area: 'input_register', address: 9, type: 'uint16', unit: 'mm', description: 'Tank level as an integer', normal: [1200, 3800], live: true },
    { name: 'heartbeat', area: 'input_register', address: 10, type: 'uint16', description: 'PLC scan counter, +1 per tick, wraps at 65535', normal: [0, 65535], live: true },
    { name: 'pump_starts', area: 'input_register', address: 11, type: 'uint32', word_order: wordOrder, description: 'Pump start counter' },
    { name: 'firmware_version', area: 'input_register', address: 13, type: 'uint16', description: 'Firmware revision as major*100 + minor*10 + patch', normal: [241, 241] },
    { name: 'mode', area: 'holding_register', address: 0, type: 'uint16', description: 'Operating mode: 0 manual, 1 auto, 2 maintenance (other values refused)', normal: [1, 1] },
    { name: 'valve_position', area: 'holding_register', address: 1, type: 'uint16', unit: '%', description: 'Outlet valve position 0-100 (PID output in auto mode)', normal: [30, 80] },
    f32('holding_register', 2, 'level_high_sp', 'm', 'Level controller: pump stops at or above', [3.5, 3.5]),
    f32('holding_register', 4, 'level_low_sp', 'm', 'Level controller: pump starts at or below', [1.5, 1.5]),
    f32('holding_register', 6, 'outflow_sp', 'm3/h', 'Outflow PID setpoint', [6, 6]),
    f32('holding_register', 8, 'pid_kp', '%/(m3/h)', 'Outflow PID proportional gain', [4, 4]),
    f32('holding_register', 10, 'pid_ki', '%/(m3/h*s)', 'Outflow PID integral gain', [0.5, 0.5]),
    f32('holding_register', 12, 'pid_kd', '%*s/(m3/h)', 'Outflow PID derivative gain', [0, 0]),
    f32('holding_register', 14, 'alarm_high', 'm', 'High level alarm limit', [4.5, 4.5]),
    f32('holding_register', 16, 'alarm_low', 'm', 'Low level alarm limit', [0.5, 0.5]),
    { name: 'config_word', area: 'holding_register', address: 18, type: 'uint16', description: 'Configuration bits: 0 remote control, 1 alarm horn; high byte = configuration revision', normal: [259, 259] },
  ];
}

const DEFAULT_SETPOINTS: Record<string, number> = {
  mode: MODE_AUTO, level_high_sp: 3.5, level_low_sp: 1.5, outflow_sp: 6, pid_kp: 4, pid_ki: 0.5, pid_kd: 0,
  alarm_high: 4.5, alarm_low: 0.5, config_word: 0x0103,
};

export class TankModel implements ProcessModel {
  readonly type = 'tank' as const;
  readonly tags: TagDef[];
  readonly sizes = { coils: 8, discrete_inputs: 8, holding_registers: 20, input_registers: 16 };
  readonly defaultIdentity = {
    vendor_name: 'otsentry simulators',
    product_code: 'OTS-TANK-1',
    revision: '2.4.1',
    vendor_url: 'https://example.invalid/otsentry',
    product_name: 'Tank plant PLC',
    model_name: 'TP-100',
    user_application_name: 'tank-level-control',
  };
  readonly tamperDefaults = [
    { tag: 'level_high_sp', value: 4.8 },
    { tag: 'pid_kp', value: 20 },
  ];
  readonly sensorTags = ['level', 'flow_rate'];
  readonly firmwareTag = 'firmware_version';

  /** true plant state */
  level: number;
  pumpOn = false;
  /** the level controller's hysteresis latch */
  private fill = true;
  private integral = 0;
  private prevError = 0;
  private outflowMeasured = 6;
  private timeS = 0;
  private heartbeat = 0;
  private pumpStarts = 0;
  /** pump forced by a scenario against the controller; null = controller decides */
  forcedPump: boolean | null = null;
  private readonly t: Record<string, TagDef>;

  constructor(
    private readonly params: TankParams,
    private readonly rng: Rng,
  ) {
    this.tags = tankTags(params.word_order);
    this.t = Object.fromEntries(this.tags.map((x) => [x.name, x]));
    this.level = params.initial_level_m;
  }

  init(io: ModelIo): void {
    const img = io.image;
    for (const [name, v] of Object.entries(DEFAULT_SETPOINTS)) writeTag(img, this.t[name], v);
    writeTag(img, this.t.firmware_version, firmwareNumber(this.defaultIdentity.revision));
    const valve = Math.min(100, Math.round((100 * DEFAULT_SETPOINTS.outflow_sp) / (VALVE_CV * Math.sqrt(Math.max(this.level, 0.3)))));
    this.integral = valve;
    writeTag(img, this.t.valve_position, valve);
    img.writeCheck = (area, address, values) => {
      if (area !== 'holding_register') return true;
      for (let i = 0; i < values.length; i++) {
        const a = address + i;
        if (a === this.t.mode.address && values[i] > MODE_MAINTENANCE) return false;
        if (a === this.t.valve_position.address && values[i] > 100) return false;
      }
      return true;
    };
    this.step(0, io);
  }

  step(dtMs: number, io: ModelIo): void {
    const img = io.image;
    const dt = (dtMs / 1000) * this.params.time_scale;
    this.timeS += dt;
    const mode = readTag(img, this.t.mode);

    // The PLC program: level controller (hysteresis) and outflow PID, on true level and measured flow.
    let pumpCmd = readTag(img, this.t.pump_cmd) === 1;
    let valve = readTag(img, this.t.valve_position);
    if (mode === MODE_AUTO) {
      const high = this.setpoint(img, 'level_high_sp');
      const low = this.setpoint(img, 'level_low_sp');
      if (this.level <= low) this.fill = true;
      else if (this.level >= high) this.fill = false;
      pumpCmd = this.fill;
      valve = this.pid(img, dt);
    } else if (mode === MODE_MAINTENANCE) {
      pumpCmd = false;
      valve = 0;
      this.integral = 0;
    } else {
      this.fill = pumpCmd;
    }
    if (this.forcedPump !== null) pumpCmd = this.forcedPump;
    writeTag(img, this.t.pump_cmd, pumpCmd ? 1 : 0);
    writeTag(img, this.t.valve_position, valve);
    if (pumpCmd && !this.pumpOn) this.pumpStarts++;
    this.pumpOn = pumpCmd;

    // The plant.
    const g = () => this.rng.gauss();
    const inflow = this.pumpOn ? 12.5 - 0.3 * this.level + 0.1 * Math.sin(this.timeS / 97) : 0;
    const outflow = (VALVE_CV * (valve / 100) * Math.sqrt(Math.max(this.level, 0))) as number;
    this.level += ((inflow - outflow) / 3600) * (dt / this.params.tank_area_m2);
    this.level = Math.min(TANK_HEIGHT_M, Math.max(0, this.level));
    this.heartbeat = (this.heartbeat + 1) & 0xffff;

    // The instruments, as the bus sees them (scenarios may override what is reported).
    const level = io.report(this.t.level, this.level + 0.002 * g());
    io.report(this.t.level_mm, Math.min(65535, Math.max(0, level * 1000)));
    io.report(this.t.flow_rate, this.pumpOn ? inflow + 0.08 * g() : Math.abs(0.01 * g()));
    this.outflowMeasured = outflow + 0.05 * g();
    io.report(this.t.outflow_rate, this.outflowMeasured);
    io.report(this.t.pressure, (this.pumpOn ? 2.2 : 0) + 0.0981 * this.level + 0.015 * g());
    const temp = 20 + 1.2 * Math.sin((2 * Math.PI * this.timeS) / 3600 + 0.7) + 0.3 * Math.sin((2 * Math.PI * this.timeS) / 600) + 0.08 * g();
    io.report(this.t.temperature, temp);
    io.report(this.t.heartbeat, this.heartbeat);
    io.report(this.t.pump_starts, this.pumpStarts);
    io.report(this.t.pump_running, this.pumpOn ? 1 : 0);
    const highAlarm = this.level > this.setpoint(img, 'alarm_high');
    const lowAlarm = this.level < this.setpoint(img, 'alarm_low');
    io.report(this.t.level_high_alarm, highAlarm ? 1 : 0);
    io.report(this.t.level_low_alarm, lowAlarm ? 1 : 0);
    const hornEnabled = (readTag(img, this.t.config_word) & 0x02) !== 0;
    writeTag(img, this.t.alarm_horn, hornEnabled && (highAlarm || lowAlarm) ? 1 : 0);
  }

  /** A setpoint register, or its default when it holds no usable number (NaN after a half-written float). */
  private setpoint(img: RegisterImage, name: string): number {
    const v = readTag(img, this.t[name]);
    return Number.isFinite(v) ? v : DEFAULT_SETPOINTS[name];
  }

  private pid(img: RegisterImage, dt: number): number {
    const kp = this.setpoint(img, 'pid_kp');
    const ki = this.setpoint(img, 'pid_ki');
    const kd = this.setpoint(img, 'pid_kd');
    const error = this.setpoint(img, 'outflow_sp') - this.outflowMeasured;
    if (dt > 0) this.integral = Math.min(100, Math.max(0, this.integral + ki * error * dt));
    const derivative = dt > 0 ? (error - this.prevError) / dt : 0;
    this.prevError = error;
    const u = kp * error + this.integral + kd * derivative;
    return Math.min(100, Math.max(0, Math.round(Number.isFinite(u) ? u : 0)));
  }

  /** Force the pump on or off against the controller (null gives control back). */
  forcePump(on: boolean | null): void {
    this.forcedPump = on;
  }

  tag(name: string): TagDef {
    return findTag(this.tags, name);
  }
}
