// Registry of detector types: type name -> parameter schema, defaults and factory.
import type { DetectorType } from './detector.js';
import { allowedValuesType } from './allowed_values.js';
import { availabilityType } from './availability.js';
import { diagnosticsType } from './diagnostics.js';
import { exceptionsType } from './exceptions.js';
import { expressionType } from './expression.js';
import { gridType } from './grid.js';
import { identityType } from './identity.js';
import { integrityType } from './integrity.js';
import { postureType } from './posture.js';
import { rangeType } from './range.js';
import { rateType } from './rate.js';
import { residualType } from './residual.js';
import { stuckType } from './stuck.js';

const TYPES: readonly DetectorType[] = [
  rangeType,
  allowedValuesType,
  rateType,
  stuckType,
  integrityType,
  identityType,
  postureType,
  availabilityType,
  exceptionsType,
  diagnosticsType,
  expressionType,
  residualType,
  gridType,
];

export const DETECTOR_TYPES: ReadonlyMap<string, DetectorType> = new Map(TYPES.map((t) => [t.type, t]));

export function detectorType(name: string): DetectorType | undefined {
  return DETECTOR_TYPES.get(name);
}

export function detectorTypeNames(): string[] {
  return [...DETECTOR_TYPES.keys()];
}
