// The bench PLC for load tests: N holding registers that drift slowly (sine plus noise), nothing else.
import { z } from 'zod';
import type { Rng } from '../rng.js';
import type { TagDef } from '../tags.js';
import type { ModelIo, ProcessModel } from './types.js';

export const benchParamsSchema = z
  .object({
    type: z.literal('bench'),
    registers: z.number().int().min(1).max(10000).default(100).describe('Number of holding registers, addresses 0..registers-1'),
  })
  .strict();
export type BenchParams = z.infer<typeof benchParamsSchema>;

export function benchTags(registers: number): TagDef[] {
  return Array.from({ length: registers }, (_, i) => ({
    name: `reg_${i}`,
    area: 'holding_register' as const,
    address: i,
    type: 'uint16' as const,
    description: 'Slowly drifting value: 1000 + 400 sin(2 pi t / period) + noise, period 60-600 s',
    normal: [590, 1410] as [number, number],
    live: true,
  }));
}

export class BenchModel implements ProcessModel {
  readonly type = 'bench' as const;
  readonly tags: TagDef[];
  readonly sizes: { coils: number; discrete_inputs: number; holding_registers: number; input_registers: number };
  readonly defaultIdentity = {
    vendor_name: 'otsentry simulators',
    product_code: 'OTS-BENCH',
    revision: '1.0.0',
    vendor_url: '',
    product_name: 'Bench PLC',
    model_name: 'BENCH',
    user_application_name: '',
  };
  // The bench rewrites every register each tick, so a tampered value would not stay: no defaults.
  readonly tamperDefaults = [];
  readonly sensorTags = ['reg_0'];
  private readonly periods: Float64Array;
  private readonly phases: Float64Array;
  private timeS = 0;

  constructor(
    params: BenchParams,
    private readonly rng: Rng,
  ) {
    this.tags = benchTags(params.registers);
    this.sizes = { coils: 0, discrete_inputs: 0, holding_registers: params.registers, input_registers: 0 };
    this.periods = new Float64Array(params.registers);
    this.phases = new Float64Array(params.registers);
    for (let i = 0; i < params.registers; i++) {
      this.periods[i] = 60 + ((i * 37) % 541);
      this.phases[i] = rng.next() * 2 * Math.PI;
    }
  }

  init(io: ModelIo): void {
    this.step(0, io);
  }

  step(dtMs: number, io: ModelIo): void {
    this.timeS += dtMs / 1000;
    for (let i = 0; i < this.tags.length; i++) {
      const v = 1000 + 400 * Math.sin((2 * Math.PI * this.timeS) / this.periods[i] + this.phases[i]) + 3 * this.rng.gauss();
      io.report(this.tags[i], v);
    }
  }
}
