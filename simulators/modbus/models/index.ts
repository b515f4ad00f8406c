// Process models by name: the factory the PLC uses and the params schema the config composes.
import { z } from 'zod';
import type { Rng } from '../rng.js';
import { BenchModel, benchParamsSchema } from './bench.js';
import { TankModel, tankParamsSchema } from './tank.js';
import type { ProcessModel } from './types.js';
import { PlaybackModel, playbackParamsSchema } from '../playback.js';

export const MODEL_TYPES = ['tank', 'bench', 'playback'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** `model: tank` is short for `model: { type: tank }`. */
export const modelParamsSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { type: v } : v),
  z.discriminatedUnion('type', [tankParamsSchema, benchParamsSchema, playbackParamsSchema]),
);
export type ModelParams = z.infer<typeof modelParamsSchema>;

export function createModel(params: ModelParams, rng: Rng): ProcessModel {
  if (params.type === 'playback') return new PlaybackModel(params);
  return params.type === 'tank' ? new TankModel(params, rng) : new BenchModel(params, rng);
}

export { TankModel, BenchModel };
export type { ProcessModel };
