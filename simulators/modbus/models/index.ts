// Process models by name: the factory the PLC uses and the params schema the config composes.
import { z } from 'zod';
import type { Rng } from '../rng.js';
import { BenchModel, benchParamsSchema } from './bench.js';
import { TankModel, tankParamsSchema } from './tank.js';
import type { ProcessModel } from './types.js';

export const MODEL_TYPES = ['tank', 'bench'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** `model: tank` is short for `model: { type: tank }`. */
export const modelParamsSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { type: v } : v),
  z.discriminatedUnion('type', [tankParamsSchema, benchParamsSchema]),
);
export type ModelParams = z.infer<typeof modelParamsSchema>;

export function createModel(params: ModelParams, rng: Rng): ProcessModel {
  return params.type === 'tank' ? new TankModel(params, rng) : new BenchModel(params, rng);
}

export { TankModel, BenchModel };
export type { ProcessModel };
