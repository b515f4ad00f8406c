// Table tests of the Modbus request planner (coalescing, limits, gaps, edges), plus a randomised
// comparison with a brute-force optimum.
import { describe, expect, it } from 'vitest';
import { modbusTagSchema, type ModbusTag } from '../../../protocols/modbus/config.js';
import { PlanError, planRequests, type PlanLimits } from '../../../protocols/modbus/planner.js';

type Area = ModbusTag['area'];
const AREA: Record<string, Area> = { c: 'coil', d: 'discrete_input', h: 'holding_register', i: 'input_register' };

/** "h10" = uint16 holding register 10; "h10:float32"; "h5.3" = bit 3 of holding register 5; name = spec. */
function t(spec: string): ModbusTag {
  const m = /^([cdhi])(\d+)(?:\.(\d+))?(?::(\w+))?$/.exec(spec);
  if (!m) throw new Error(`bad tag spec ${spec}`);
  return modbusTagSchema.parse({
    name: spec.replace(/[^A-Za-z0-9_.-]/g, '_'),
    area: AREA[m[1]],
    address: Number(m[2]),
    ...(m[3] !== undefined ? { bit: Number(m[3]) } : {}),
    ...(m[4] !== undefined ? { type: m[4] } : {}),
  });
}

/** Requests as compact strings: "h0+3[a,b]" = holding from 0, 3 registers, decoding tags a and b. */
function plan(specs: string[], limits: Partial<PlanLimits> = {}): string[] {
  const tags = specs.map(t);
  return planRequests(tags, limits).map((r) => `${r.area[0]}${r.address}+${r.quantity}[${r.items.map((it) => it.name).join(',')}]`);
}

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, k) => `${prefix}${from + k}`);

describe('planRequests', () => {
  const cases: { name: string; tags: string[]; limits?: Partial<PlanLimits>; want: string[] }[] = [
    { name: 'empty', tags: [], want: [] },
    { name: 'one register', tags: ['h7'], want: ['h7+1[h7]'] },
    { name: 'adjacent registers merge', tags: ['h0', 'h1', 'h2'], want: ['h0+3[h0,h1,h2]'] },
    { name: 'a gap splits without gap filling', tags: ['h0', 'h5'], want: ['h0+1[h0]', 'h5+1[h5]'] },
    { name: 'gap exactly at the limit is filled', tags: ['h0', 'h5'], limits: { max_gap_registers: 4 }, want: ['h0+6[h0,h5]'] },
    { name: 'gap one above the limit splits', tags: ['h0', 'h6'], limits: { max_gap_registers: 4 }, want: ['h0+1[h0]', 'h6+1[h6]'] },
    { name: 'gap filling never exceeds the size limit', tags: ['h0', 'h9', 'h10'], limits: { max_registers_per_read: 10, max_gap_registers: 100 }, want: ['h0+10[h0,h9]', 'h10+1[h10]'] },
    { name: '125 registers fit one read', tags: range('h', 0, 124), want: [`h0+125[${range('h', 0, 124).join(',')}]`] },
    { name: '126 registers need two reads', tags: range('h', 0, 125), want: [`h0+125[${range('h', 0, 124).join(',')}]`, 'h125+1[h125]'] },
    { name: 'smaller size limit', tags: range('h', 0, 10), limits: { max_registers_per_read: 10 }, want: [`h0+10[${range('h', 0, 9).join(',')}]`, 'h10+1[h10]'] },
    {
      name: '32-bit tag at the boundary moves whole to the next read',
      tags: [...range('h', 0, 8), 'h9:float32'],
      limits: { max_registers_per_read: 10 },
      want: [`h0+9[${range('h', 0, 8).join(',')}]`, 'h9+2[h9_float32]'],
    },
    {
      name: '32-bit tag that just fits stays',
      tags: [...range('h', 0, 7), 'h8:uint32'],
      limits: { max_registers_per_read: 10 },
      want: [`h0+10[${range('h', 0, 7).join(',')},h8_uint32]`],
    },
    { name: '32-bit tags back to back', tags: ['h0:int32', 'h2:int32', 'h4:float32'], want: ['h0+6[h0_int32,h2_int32,h4_float32]'] },
    { name: 'overlapping tags share registers', tags: ['h10:uint32', 'h11'], want: ['h10+2[h10_uint32,h11]'] },
    { name: 'a 16-bit tag inside a 32-bit one', tags: ['h11', 'h10:uint32'], want: ['h10+2[h10_uint32,h11]'] },
    { name: 'bit tags share one register', tags: ['h5.0', 'h5.3', 'h5.15', 'h5'], want: ['h5+1[h5.0,h5.3,h5.15,h5]'] },
    { name: 'same register as two types', tags: ['h3:int16', 'h3:uint16'], want: ['h3+1[h3_int16,h3_uint16]'] },
    { name: 'mixed areas, one read each, in area order', tags: ['i0', 'h0', 'd0', 'c0'], want: ['c0+1[c0]', 'd0+1[d0]', 'h0+1[h0]', 'i0+1[i0]'] },
    { name: 'same addresses in two areas do not merge', tags: ['h0', 'i1', 'h1', 'i0'], want: ['h0+2[h0,h1]', 'i0+2[i0,i1]'] },
    { name: 'unsorted input', tags: ['h20', 'h10', 'h11', 'h0', 'h12'], limits: { max_gap_registers: 0 }, want: ['h0+1[h0]', 'h10+3[h10,h11,h12]', 'h20+1[h20]'] },
    { name: 'last address 65535', tags: ['h65535', 'h65534'], want: ['h65534+2[h65534,h65535]'] },
    { name: 'last 32-bit address 65534', tags: ['i65534:float32'], want: ['i65534+2[i65534_float32]'] },
    { name: 'coil at 65535', tags: ['c65535'], want: ['c65535+1[c65535]'] },
    { name: '2000 coils fit one read', tags: range('c', 0, 1999), want: [`c0+2000[${range('c', 0, 1999).join(',')}]`] },
    { name: 'coils 2001 apart need two reads', tags: ['c0', 'c2000'], limits: { max_gap_bits: 1999 }, want: ['c0+1[c0]', 'c2000+1[c2000]'] },
    { name: 'bit gap filling', tags: ['d0', 'd100'], limits: { max_gap_bits: 99 }, want: ['d0+101[d0,d100]'] },
    { name: 'register gap does not apply to bits', tags: ['c0', 'c5'], limits: { max_gap_registers: 10 }, want: ['c0+1[c0]', 'c5+1[c5]'] },
    { name: 'bit gap does not apply to registers', tags: ['h0', 'h5'], limits: { max_gap_bits: 10 }, want: ['h0+1[h0]', 'h5+1[h5]'] },
    { name: 'bit read limit', tags: ['c0', 'c1', 'c2'], limits: { max_bits_per_read: 2 }, want: ['c0+2[c0,c1]', 'c2+1[c2]'] },
  ];

  for (const c of cases) {
    it(c.name, () => {
      expect(plan(c.tags, c.limits)).toEqual(c.want);
    });
  }

  it('records each tag index inside its request and builds the request PDU', () => {
    const [req] = planRequests([t('h100'), t('h103:float32'), t('h101.4')], { max_gap_registers: 5 });
    expect(req.functionCode).toBe(3);
    expect(req.items.map((it) => [it.name, it.index, it.bit])).toEqual([
      ['h100', 0, 0],
      ['h101.4', 1, 4],
      ['h103_float32', 3, 0],
    ]);
    expect([...req.pdu]).toEqual([3, 0, 100, 0, 5]);
    const fcs = planRequests([t('c1'), t('d1'), t('h1'), t('i1')]).map((r) => r.pdu[0]);
    expect(fcs).toEqual([1, 2, 3, 4]);
  });

  it('carries scale and offset to the items', () => {
    const tag = modbusTagSchema.parse({ name: 'temp', area: 'input_register', address: 0, type: 'int16', scale: 0.1, offset: -40 });
    const [req] = planRequests([tag]);
    expect(req.items[0]).toMatchObject({ scale: 0.1, offset: -40 });
  });

  it('refuses a 32-bit tag that runs past address 65535', () => {
    expect(() => planRequests([t('h65535:uint32')])).toThrow(PlanError);
    expect(() => planRequests([t('h65535:uint32')])).toThrow(/past the last address/);
  });

  it('refuses a 32-bit tag when reads are limited to one register', () => {
    expect(() => planRequests([t('h0:int32')], { max_registers_per_read: 1 })).toThrow(/needs 2 registers/);
  });

  it('refuses limits above what Modbus allows', () => {
    expect(() => planRequests([t('h0')], { max_registers_per_read: 126 })).toThrow(PlanError);
    expect(() => planRequests([t('c0')], { max_bits_per_read: 2001 })).toThrow(PlanError);
  });

  it('is pure: the input order is left alone', () => {
    const tags = [t('h9'), t('h1')];
    planRequests(tags);
    expect(tags.map((x) => x.address)).toEqual([9, 1]);
  });
});

describe('planRequests on random tag sets', () => {
  // Small seeded generator so failures reproduce.
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let x = Math.imul(s ^ (s >>> 15), 1 | s);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** Fewest reads, by dynamic programming over the address-sorted tags (reads cover consecutive tags). */
  function optimum(spans: [number, number][], maxCount: number, maxGap: number): number {
    const s = [...spans].sort((a, b) => a[0] - b[0]);
    const best = new Array<number>(s.length + 1).fill(Infinity);
    best[0] = 0;
    for (let i = 0; i < s.length; i++) {
      let end = -Infinity;
      for (let j = i; j < s.length; j++) {
        if (j > i && s[j][0] - end > maxGap) break;
        end = Math.max(end, s[j][1]);
        if (end - s[i][0] > maxCount) break;
        best[j + 1] = Math.min(best[j + 1], best[i] + 1);
      }
    }
    return best[s.length];
  }

  it('covers every tag whole, respects the limits, and needs no more reads than the optimum', () => {
    const rand = rng(42);
    for (let round = 0; round < 300; round++) {
      const maxCount = 2 + Math.floor(rand() * 20);
      const maxGap = Math.floor(rand() * 5);
      const tags: ModbusTag[] = [];
      const n = Math.floor(rand() * 25);
      for (let k = 0; k < n; k++) {
        const type = rand() < 0.3 ? 'float32' : 'uint16';
        tags.push(modbusTagSchema.parse({ name: `t${k}`, area: 'holding_register', address: Math.floor(rand() * 60), type }));
      }
      const reqs = planRequests(tags, { max_registers_per_read: maxCount, max_gap_registers: maxGap });
      const seen = new Set<string>();
      for (const r of reqs) {
        expect(r.quantity).toBeLessThanOrEqual(maxCount);
        for (const it of r.items) {
          const width = it.tag.type === 'float32' ? 2 : 1;
          expect(it.index).toBeGreaterThanOrEqual(0);
          expect(it.index + width).toBeLessThanOrEqual(r.quantity);
          seen.add(it.name);
        }
      }
      expect(seen.size).toBe(tags.length);
      const spans = tags.map((x): [number, number] => [x.address, x.address + (x.type === 'float32' ? 2 : 1)]);
      expect(reqs.length).toBe(optimum(spans, maxCount, maxGap));
    }
  });
});
