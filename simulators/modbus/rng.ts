// Seeded pseudo-random numbers (mulberry32) so a process model replays the same run from the same seed.

export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** normal distribution, mean 0, standard deviation 1 (Box-Muller) */
  gauss(): number;
  /** an independent stream derived from this one (for scenarios, so they do not shift the model's noise) */
  fork(salt: number): Rng;
}

export function createRng(seed: number): Rng {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  let spare: number | null = null;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    gauss() {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    fork(salt: number) {
      return createRng((Math.imul(seed, 2654435761) ^ Math.imul(salt + 1, 40503)) >>> 0);
    },
  };
}
