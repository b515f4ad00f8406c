// The `grid` detector and grid finding: ADC-scaled readings and two-decimal setpoints have a grid,
// noisy floats have none; a value between grid points raises, the next on-grid value clears.
import { describe, expect, it } from 'vitest';
import { findGrid, offGrid } from '../../rules/grid.js';
import { engine, marks, feed } from '../rules/helpers.js';
import { learnOptions } from '../../rules/learn/options.js';
import { robustGrid } from '../../rules/learn/grid.js';
import { TagStats } from '../../rules/learn/stats.js';

const sig6 = (x: number) => Number(x.toPrecision(6));

describe('findGrid', () => {
  it('finds an ADC step from readings printed with six significant digits', () => {
    const v = Float64Array.from({ length: 3000 }, (_, i) => sig6((42 + ((i * 37) % 3400)) / 87));
    expect(findGrid(v)!.step).toBeCloseTo(1 / 87, 9);
  });

  it('finds two decimals in float32 registers, and no grid in noisy floats or too few values', () => {
    const sp = Float64Array.from({ length: 500 }, (_, i) => Math.fround(((i * 13) % 1990) / 100));
    expect(findGrid(sp)!.step).toBeCloseTo(0.01, 8);
    let a = 7;
    const noisy = Float64Array.from({ length: 500 }, () => ((a = (a * 48271) % 2147483647) / 2147483647) * 10);
    expect(findGrid(noisy)).toBeUndefined();
    expect(findGrid(Float64Array.from([0.1, 0.2, 0.3]))).toBeUndefined();
  });
});

describe('grid detector', () => {
  it('raises for a value between grid points and clears on the next value on it', () => {
    const e = engine([{ id: 'g', type: 'grid', device: 'tank1', tag: 'pressure', step: 1 / 87 }]);
    const fs = feed(e, 'pressure', [60 / 87, Math.fround(61 / 87), 1.2465, 0.7558, 62 / 87, 0]);
    expect(marks(fs)).toEqual(['R@2:pressure', 'C@4:pressure']);
    expect(fs[0].message).toBe('pressure = 1.2465 is not on its grid of 0.0114943 (nearest 1.24138): not a value the sensor or HMI produces');
  });
});

describe('near zero', () => {
  it('a value between 0 and the first grid point is off the grid unless it is 0 itself', () => {
    expect(offGrid(0, 1 / 87)).toBe(false);
    expect(offGrid(-0, 1 / 87)).toBe(false);
    expect(offGrid(1e-30, 1 / 87)).toBe(true);
    expect(offGrid(-2.3e-39, 1 / 87)).toBe(true);
    expect(offGrid(Math.fround(1 / 87), 1 / 87)).toBe(false);
    // a grid with an origin of its own: the origin rounds through float32 like any grid point
    expect(offGrid(Math.fround(0.1), 0.5, 0.1)).toBe(false);
  });

  it('the detector raises for a random register word that decodes to almost 0, and clears on 0', () => {
    const e = engine([{ id: 'g', type: 'grid', device: 'tank1', tag: 'pressure', step: 1 / 87 }]);
    const fs = feed(e, 'pressure', [60 / 87, 1.27e-38, 9.3e-19, 0, 61 / 87]);
    expect(marks(fs)).toEqual(['R@1:pressure', 'C@3:pressure']);
  });
});


describe('the tolerance a grid is learned with', () => {
  const O = learnOptions();
  const stats = (col: Float64Array) => {
    const s = new TagStats();
    col.forEach((v, i) => s.add(v, i * 1000));
    s.settle(col, O);
    return s;
  };

  it('is tight for entries typed with two decimals, even in float32 registers: 0.240134 is off their grid', () => {
    const typed = Float64Array.from({ length: 5000 }, (_, i) => Math.fround((20 + ((i * 7) % 60)) / 100));
    const g = robustGrid(typed, stats(typed), O)!;
    expect(g.step).toBeCloseTo(0.01, 10);
    expect(g.tolerance).toBe(0.001);
    expect(offGrid(0.240134, g.step, 0, g.tolerance)).toBe(true);
    expect(offGrid(0.240134, g.step)).toBe(false); // the default tolerance (2% of a step) let it pass
    expect(offGrid(Math.fround(0.41), g.step, 0, g.tolerance)).toBe(false);
  });

  it('leaves room for readings printed with six significant digits, new ones included', () => {
    // an ADC step of 1/87 printed with six digits, learned between 0.5 and 20 (each count three times)
    const adc = (k: number) => sig6(k / 87);
    const seen = Float64Array.from({ length: 5100 }, (_, i) => adc(42 + (i % 1700)));
    const g = robustGrid(seen, stats(seen), O)!;
    expect(g.step).toBeCloseTo(1 / 87, 8);
    expect(g.tolerance).toBeGreaterThan(0.001);
    expect(g.tolerance).toBeLessThanOrEqual(0.02);
    // readings never seen, up to 40, are on it; a value between grid points is not
    for (let k = 1742; k < 3442; k++) expect(offGrid(adc(k), g.step, 0, g.tolerance), String(adc(k))).toBe(false);
    expect(offGrid(25.339, g.step, 0, g.tolerance)).toBe(true);
  });
});
