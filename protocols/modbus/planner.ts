// Request planner: coalesces the tags of one device into the fewest read requests (pure).
//
// Per area, tags are sorted by address and merged greedily left to right: a tag joins the
// current request when the hole before it is at most the gap limit and the request stays within
// the size limit. Left-to-right greedy is optimal here (each request starts at the first tag not
// yet covered and reaches as far as it may). A tag is never split across two requests, and tags
// may overlap or share a register (bit tags, the same register read as two types).
import { tagType, tagWidth, type ModbusTag } from './config.js';
import { codecOf, type Codec } from './decode.js';
import { OperationalError } from '../errors.js';

export type ModbusArea = ModbusTag['area'];

/** Read function code per area. */
export const AREA_FUNCTION: Readonly<Record<ModbusArea, 1 | 2 | 3 | 4>> = {
  coil: 1,
  discrete_input: 2,
  holding_register: 3,
  input_register: 4,
};

const AREA_ORDER: readonly ModbusArea[] = ['coil', 'discrete_input', 'holding_register', 'input_register'];

export interface PlanLimits {
  max_registers_per_read: number;
  max_bits_per_read: number;
  max_gap_registers: number;
  max_gap_bits: number;
}

export const DEFAULT_LIMITS: PlanLimits = { max_registers_per_read: 125, max_bits_per_read: 2000, max_gap_registers: 0, max_gap_bits: 0 };

/** One tag as a request decodes it. */
export interface PlannedItem {
  readonly tag: ModbusTag;
  readonly name: string;
  /** register (or bit) index of the tag inside the request, 0 = the request's first address */
  readonly index: number;
  readonly codec: Codec;
  readonly scale: number;
  readonly offset: number;
  /** bit number for register bit tags, else 0 */
  readonly bit: number;
}

export interface PlannedRequest {
  readonly area: ModbusArea;
  readonly functionCode: 1 | 2 | 3 | 4;
  readonly address: number;
  /** registers for FC03/FC04, bits for FC01/FC02 */
  readonly quantity: number;
  /** tags this request decodes, in address order */
  readonly items: readonly PlannedItem[];
  /** request PDU (function code, address, quantity), built once */
  readonly pdu: Buffer;
}

export class PlanError extends OperationalError {
  constructor(message: string) {
    super('plan_invalid', message, 'config');
  }
}

/** Plan the reads of one device. Throws PlanError for tags that cannot be read at all. */
export function planRequests(tags: readonly ModbusTag[], limits: Partial<PlanLimits> = {}): PlannedRequest[] {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  checkLimits(lim);
  const out: PlannedRequest[] = [];
  for (const area of AREA_ORDER) {
    const bits = area === 'coil' || area === 'discrete_input';
    const maxCount = bits ? lim.max_bits_per_read : lim.max_registers_per_read;
    const maxGap = bits ? lim.max_gap_bits : lim.max_gap_registers;
    const mine = tags.filter((t) => t.area === area);
    if (mine.length === 0) continue;
    // Sort by address; at equal address keep input order (Array.prototype.sort is stable).
    mine.sort((a, b) => a.address - b.address);
    let group: ModbusTag[] = [];
    let start = 0;
    let end = 0; // exclusive
    for (const tag of mine) {
      const width = bits ? 1 : tagWidth(tag);
      const tagEnd = tag.address + width;
      if (tagEnd > 65536) throw new PlanError(`tag "${tag.name}": a ${tagType(tag)} at address ${tag.address} runs past the last address 65535`);
      if (width > maxCount) throw new PlanError(`tag "${tag.name}": a ${tagType(tag)} needs ${width} registers but max_registers_per_read is ${maxCount}`);
      const fits = group.length > 0 && tag.address - end <= maxGap && Math.max(end, tagEnd) - start <= maxCount;
      if (fits) {
        group.push(tag);
        end = Math.max(end, tagEnd);
      } else {
        if (group.length > 0) out.push(makeRequest(area, start, end - start, group));
        group = [tag];
        start = tag.address;
        end = tagEnd;
      }
    }
    out.push(makeRequest(area, start, end - start, group));
  }
  return out;
}

function makeRequest(area: ModbusArea, address: number, quantity: number, tags: ModbusTag[]): PlannedRequest {
  const functionCode = AREA_FUNCTION[area];
  const items: PlannedItem[] = tags.map((tag) => ({
    tag,
    name: tag.name,
    index: tag.address - address,
    codec: codecOf(tag),
    scale: tag.scale ?? 1,
    offset: tag.offset ?? 0,
    bit: tag.bit ?? 0,
  }));
  const pdu = Buffer.alloc(5);
  pdu[0] = functionCode;
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(quantity, 3);
  return { area, functionCode, address, quantity, items, pdu };
}

function checkLimits(lim: PlanLimits): void {
  if (!(lim.max_registers_per_read >= 1 && lim.max_registers_per_read <= 125)) throw new PlanError('max_registers_per_read must be 1..125');
  if (!(lim.max_bits_per_read >= 1 && lim.max_bits_per_read <= 2000)) throw new PlanError('max_bits_per_read must be 1..2000');
  if (!(lim.max_gap_registers >= 0) || !(lim.max_gap_bits >= 0)) throw new PlanError('gap limits must not be negative');
}
