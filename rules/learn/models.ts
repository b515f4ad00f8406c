// Mining linear relations between tags for `residual` rules: each continuous tag is predicted
// from at most max_terms other tags of the same cycle or of the previous one (greedy forward
// selection on the covariance matrix), scored with the measurement tolerance of every input, and
// kept only when it explains most of the tag's variation; likewise its change since the previous
// cycle (a change model). A model whose drift shows a regime it does not cover (two pumps in
// parallel) gets one product of two 0/1 states. Its CUSUM threshold is set above the drift
// episodes the detector itself shows over the learning window, all but a few odd ones whose peak
// lies far beyond the others (an attack or a fault in the window does not set it).
import type { LearnOptions } from './options.js';
import { envelopeOptions, robustEnvelope, type CycleTable, type TagKind, type TagStats } from './stats.js';

export interface ModelTerm {
  tag: string;
  /** a regime term: tag x times (both 0/1 states of the same cycle) */
  times?: string;
  coef: number;
  lag: number;
}

export interface MinedModel {
  target: string;
  /** the tag's value, or its change since the previous cycle (a term of the tag at lag 1 with coefficient 1) */
  kind: 'level' | 'change';
  intercept: number;
  terms: ModelTerm[];
  /** scale of a normal error, including measurement tolerance */
  sigma: number;
  /** CUSUM threshold in sigmas */
  h: number;
  k: number;
  /** largest CUSUM seen over the learning window */
  max_drift: number;
  /** the largest peak of a drift episode that is not left out as odd (what the threshold is set above) */
  usual_drift: number;
  /** drift episodes left out: their peaks lie beyond a wide gap from the others */
  odd_episodes: number;
  /** share of the target's variance the model explains (with tolerance) */
  r2: number;
  /** cycles the model was fitted on */
  n: number;
}

/** Models are mined for at most this many tags per device (the covariance grows with its square). */
export const MAX_MODEL_TAGS = 80;
/** Regime terms (products of two 0/1 states) only for at most this many states (pairs grow with its square). */
export const MAX_REGIME_STATES = 16;

/** A tag that only ever took the values 0 and 1 (on/off). */
function isSwitch(s: TagStats | undefined): boolean {
  return s !== undefined && s.distinct.size === 2 && s.distinct.has(0) && s.distinct.has(1);
}

/** Solve a small symmetric system; null when singular. Gaussian elimination with partial pivoting. */
export function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) < 1e-12) return null;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

interface Fit {
  cols: number[];
  beta: number[];
  sigma: number;
}

export function mineModels(table: CycleTable, stats: ReadonlyMap<string, TagStats>, kinds: ReadonlyMap<string, TagKind>, o: LearnOptions): MinedModel[] {
  const names = table.names;
  const feat = names.map((n, i) => [n, i] as const).filter(([n]) => kinds.get(n) === 'continuous' || kinds.get(n) === 'discrete');
  if (feat.length < 2 || feat.length > MAX_MODEL_TAGS) return [];
  const m = feat.length;
  // two-state tags (0/1: a pump, a valve) pair up into regime terms: the product is 1 only while
  // both are on (two pumps in parallel deliver less each than one alone)
  const states = feat.map(([n], j) => [n, j] as const).filter(([n]) => isSwitch(stats.get(n)));
  const pairs: Array<[number, number]> = [];
  if (states.length <= MAX_REGIME_STATES) for (let a = 0; a < states.length; a++) for (let b = a + 1; b < states.length; b++) pairs.push([states[a][1], states[b][1]]);
  const p = 2 * m + pairs.length; // [current values, previous cycle's values, regime products]
  const rows = table.rows;
  const x = new Float64Array(p);
  const load = (i: number): boolean => {
    const cur = rows[i];
    const prev = rows[i - 1];
    for (let j = 0; j < m; j++) {
      const a = cur[feat[j][1]];
      const b = prev[feat[j][1]];
      if (a !== a || b !== b) return false;
      x[j] = a;
      x[m + j] = b;
    }
    for (let q = 0; q < pairs.length; q++) x[2 * m + q] = x[pairs[q][0]] * x[pairs[q][1]];
    return true;
  };
  const mean = new Float64Array(p);
  let n = 0;
  for (let i = 1; i < rows.length; i++) {
    if (!load(i)) continue;
    n++;
    for (let a = 0; a < p; a++) mean[a] += x[a];
  }
  if (n < Math.max(o.min_cycles, 5 * p)) return [];
  for (let a = 0; a < p; a++) mean[a] /= n;
  const cov = Array.from({ length: p }, () => new Float64Array(p));
  for (let i = 1; i < rows.length; i++) {
    if (!load(i)) continue;
    for (let a = 0; a < p; a++) x[a] -= mean[a];
    for (let a = 0; a < p; a++) {
      const xa = x[a];
      const row = cov[a];
      for (let b = a; b < p; b++) row[b] += xa * x[b];
    }
  }
  for (let a = 0; a < p; a++) for (let b = a; b < p; b++) cov[b][a] = cov[a][b] /= n;
  const tol = Float64Array.from({ length: p }, (_, a) => (a < 2 * m ? o.noise * stats.get(feat[a % m][0])!.magnitude : 0));

  // A target is a tag's value (`level`) or its change since the previous cycle (`change`): the
  // change of a tank's level follows its flows, a relation a frozen or replayed level breaks even
  // where the level alone is best predicted by its own past.
  interface Target {
    t: number;
    /** covariance of the target with column a */
    cy: (a: number) => number;
    vy: number;
    tolY: number;
    /** columns the target may not use */
    banned: (c: number) => boolean;
  }
  const fit = (y: Target, cols: number[]): Fit | null => {
    const beta = solve(
      cols.map((a) => cols.map((b) => cov[a][b] + (a === b ? 1e-12 * (1 + cov[a][a]) : 0))),
      cols.map((a) => y.cy(a)),
    );
    if (beta === null) return null;
    let resid = y.vy;
    cols.forEach((a, i) => (resid -= beta[i] * y.cy(a)));
    let v = Math.max(0, resid) + y.tolY * y.tolY;
    cols.forEach((a, i) => (v += (beta[i] * tol[a]) ** 2));
    return { cols, beta, sigma: Math.sqrt(v) };
  };
  /** Greedy forward selection: the fit that explains most of the target, or null when it explains too little. */
  const select = (y: Target): Fit | null => {
    const sdY = Math.sqrt(y.vy);
    if (!(sdY > 0)) return null;
    let best: Fit | null = null;
    let cur = Math.sqrt(y.vy + y.tolY * y.tolY);
    for (let step = 0; step < o.max_terms; step++) {
      let stepBest: Fit | null = null;
      for (let c = 0; c < p; c++) {
        if (y.banned(c) || best?.cols.includes(c)) continue;
        const f = fit(y, [...(best?.cols ?? []), c]);
        if (f && (stepBest === null || f.sigma < stepBest.sigma)) stepBest = f;
      }
      if (stepBest === null || stepBest.sigma > 0.9 * cur) break;
      best = stepBest;
      cur = stepBest.sigma;
    }
    if (best === null || best.sigma > 0.5 * sdY) return null;
    return best;
  };

  const out: MinedModel[] = [];
  const build = (t: number, kind: 'level' | 'change', best: Fit) => {
    let intercept = kind === 'level' ? mean[t] : mean[t] - mean[m + t];
    best.cols.forEach((a, i) => (intercept -= best.beta[i] * mean[a]));
    const terms: ModelTerm[] = best.cols.map((a, i) =>
      a < 2 * m ? { tag: feat[a % m][0], coef: sig(best.beta[i], 8), lag: a < m ? 0 : 1 } : { tag: feat[pairs[a - 2 * m][0]][0], times: feat[pairs[a - 2 * m][1]][0], coef: sig(best.beta[i], 8), lag: 0 },
    );
    if (kind === 'change') terms.push({ tag: feat[t][0], coef: 1, lag: 1 });
    const model = { target: feat[t][0], intercept: sig(intercept, 8), terms, sigma: sig(best.sigma, 4), k: o.cusum_k };
    return { model, drift: driftLevels(table, model, o), r2: 1 - (best.sigma * best.sigma) / y2(t, kind) };
  };
  const y2 = (t: number, kind: 'level' | 'change') => (kind === 'level' ? cov[t][t] : cov[t][t] - 2 * cov[t][m + t] + cov[m + t][m + t]);
  const keep = (y: Target, kind: 'level' | 'change', found: Fit) => {
    let b = build(y.t, kind, found);
    // many drift episodes far beyond the others: a regime the model does not cover (two pumps in
    // parallel); one regime term may cover it, and is kept when it does
    if (b.drift.regime) {
      let alt: Fit | null = null;
      for (let c = 2 * m; c < p; c++) {
        const f = fit(y, [...found.cols, c]);
        if (f && (alt === null || f.sigma < alt.sigma)) alt = f;
      }
      const a = alt && build(y.t, kind, alt);
      if (a && !a.drift.regime) b = a;
    }
    const { model, drift, r2 } = b;
    out.push({ ...model, kind, h: sig(o.cusum_margin * drift.usual + 1, 4), max_drift: drift.max, usual_drift: drift.usual, odd_episodes: drift.left_out, r2, n });
  };
  for (let t = 0; t < m; t++) {
    if (kinds.get(feat[t][0]) !== 'continuous') continue;
    const ys = m + t;
    const level: Target = { t, cy: (a) => cov[t][a], vy: y2(t, 'level'), tolY: tol[t], banned: (c) => c === t || c >= 2 * m };
    const change: Target = { t, cy: (a) => cov[t][a] - cov[ys][a], vy: y2(t, 'change'), tolY: Math.SQRT2 * tol[t], banned: (c) => c === t || c === ys || c >= 2 * m };
    for (const [y, kind] of [[level, 'level'], [change, 'change']] as const) {
      const found = select(y);
      if (found) keep(y, kind, found);
    }
  }
  return out;
}

/** Round to d significant digits (readable rule files, no float noise). */
export function sig(v: number, d: number): number {
  return v === 0 || !Number.isFinite(v) ? v : Number(v.toPrecision(d));
}

/**
 * The detector's own CUSUM over the learning window (no cap), cut into episodes (from zero back to
 * zero): the largest peak, and the largest that belongs to normal operation by the robust envelope
 * of all episode peaks (stats.ts: peaks beyond a wide gap from the rest, an attack or a fault in
 * the window, are left out, as long as they are few: under rare_share of the episodes, or one).
 * The threshold is set above the latter.
 */
export function driftLevels(table: CycleTable, mdl: { target: string; intercept: number; terms: ModelTerm[]; sigma: number; k: number }, o: LearnOptions): { max: number; usual: number; left_out: number; regime: boolean } {
  const idx = new Map(table.names.map((n, i) => [n, i]));
  const ti = idx.get(mdl.target)!;
  const terms = mdl.terms.map((t) => [idx.get(t.tag)!, t.coef, t.lag, t.times === undefined ? -1 : idx.get(t.times)!] as const);
  let hi = 0, lo = 0, peak = 0;
  const peaks: number[] = [];
  for (let i = 0; i < table.rows.length; i++) {
    let pred = mdl.intercept;
    for (const [j, coef, lag, w] of terms) pred += coef * (i - lag >= 0 ? table.rows[i - lag][j] * (w < 0 ? 1 : table.rows[i - lag][w]) : NaN);
    const y = table.rows[i][ti];
    if (pred !== pred || y !== y) continue;
    const z = (y - pred) / mdl.sigma;
    hi = Math.max(0, hi + z - mdl.k);
    lo = Math.max(0, lo - z - mdl.k);
    const level = hi > lo ? hi : lo;
    if (level > 0) peak = Math.max(peak, level);
    else if (peak > 0) {
      peaks.push(peak);
      peak = 0;
    }
  }
  if (peak > 0) peaks.push(peak);
  if (peaks.length === 0) return { max: 0, usual: 0, left_out: 0, regime: false };
  const max = Math.max(...peaks);
  // peaks are measurements, not states: no peak value is frequent enough to widen the core by itself
  const env = robustEnvelope(peaks, { ...envelopeOptions(o, 0), rare_share: undefined });
  // many odd episodes are a regime of the process the model does not cover, not an intrusion
  if (env.above > Math.max(1, o.rare_share * peaks.length)) return { max, usual: max, left_out: 0, regime: true };
  return { max, usual: env.hi, left_out: env.above, regime: false };
}
