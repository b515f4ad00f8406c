// firmware-swap: the device reports another firmware revision and/or product code (FC43), as after a swap.
import { z } from 'zod';
import { MAX_OBJECT_LENGTH, type Identity } from '../identity.js';
import { firmwareNumber } from '../models/types.js';
import { defineScenario } from './types.js';

const params = z
  .object({
    revision: z.string().min(1).max(MAX_OBJECT_LENGTH).optional().describe('New MajorMinorRevision; default 2.5.0-unsigned unless only product_code is given'),
    product_code: z.string().min(1).max(MAX_OBJECT_LENGTH).optional().describe('New ProductCode'),
  })
  .strict();

export default defineScenario({
  name: 'firmware-swap',
  description: 'Changes the FC43 revision (and the firmware_version register) and/or the product code, as if firmware were replaced.',
  models: ['tank', 'bench'],
  params,
  start(plc, p) {
    const before: Identity = { ...plc.identity };
    const fwTag = plc.model.firmwareTag;
    const fwBefore = fwTag ? plc.readTag(fwTag) : undefined;
    const revision = p.revision ?? (p.product_code ? undefined : '2.5.0-unsigned');
    plc.identity = { ...plc.identity, ...(revision ? { revision } : {}), ...(p.product_code ? { product_code: p.product_code } : {}) };
    if (fwTag && revision) plc.writeTag(fwTag, firmwareNumber(revision));
    return { before, fwBefore };
  },
  stop(plc, s) {
    plc.identity = s.before;
    const fwTag = plc.model.firmwareTag;
    if (fwTag && s.fwBefore !== undefined) plc.writeTag(fwTag, s.fwBefore);
  },
});
