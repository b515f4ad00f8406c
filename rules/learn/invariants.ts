// Mining invariants between tags that held in every cycle of the learning window, as expression
// rules: a discrete state that fixes another (mode == 2 implies scheme == 1), a state that bounds a
// measurement (pump == 0 implies flow <= 0.5), and a measurement that fixes a state (level < 1.2
// implies pump == 1). Bounds get the learning margin; rules whose premise is rare are not kept.
import type { LearnOptions } from './options.js';
import type { CycleTable, TagKind, TagStats } from './stats.js';
import { sig } from './models.js';
import { holdsValues } from './transients.js';
import { allKnown, compileExpr } from '../expr/compile.js';

export interface MinedInvariant {
  /** short id part, e.g. 'pump.flow' */
  name: string;
  /** the same premise and conclusion learned from other data has the same key */
  key: string;
  expr: string;
  /** cycles in which the premise held */
  support: number;
  /** separate runs of cycles in which it held (independent observations) */
  episodes: number;
  evidence: string;
  /** for one state fixing another: the combinations of the two states it forbids */
  forbids?: string[];
}

const KEYWORDS = new Set(['and', 'or', 'not', 'implies', 'true', 'false', 'abs', 'min', 'max']);

/** A tag name as the expression language reads it (backticks around unusual names). */
export function exprName(tag: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(tag) && !KEYWORDS.has(tag) ? tag : `\`${tag}\``;
}

/** Runs of consecutive rows in a sorted list of row numbers. */
function runs(rows: readonly number[]): number {
  let r = 0;
  for (let i = 0; i < rows.length; i++) if (i === 0 || rows[i] !== rows[i - 1] + 1) r++;
  return r;
}

/** Most invariants kept per device (strongest support first). */
const MAX_PER_DEVICE = 150;

/**
 * Invariants that held in every cycle, kept only when they are stable: learned from either half of
 * the window alone, they also hold on the other half (a bound fitted to a few episodes of a process
 * whose normal drifts would not).
 */
export function mineInvariants(table: CycleTable, stats: ReadonlyMap<string, TagStats>, kinds: ReadonlyMap<string, TagKind>, o: LearnOptions): MinedInvariant[] {
  const n = table.rows.length;
  const half = n >> 1;
  const full = mineRows(table, 0, n, stats, kinds, o);
  const a = new Map(mineRows(table, 0, half, stats, kinds, o).map((x) => [x.key, x]));
  const b = new Map(mineRows(table, half, n, stats, kinds, o).map((x) => [x.key, x]));
  const index = new Map(table.names.map((t, i) => [t, i]));
  const holds = (inv: MinedInvariant, from: number, to: number) => {
    const c = compileExpr(inv.expr, index);
    for (let i = from; i < to; i++) if (allKnown(c, table.rows[i]) && c.eval(table.rows[i]) === 0) return false;
    return true;
  };
  const stable = full.filter((x) => {
    const ia = a.get(x.key);
    const ib = b.get(x.key);
    return ia !== undefined && ib !== undefined && holds(ia, half, n) && holds(ib, 0, half);
  });
  return withoutRepeats(stable);
}

/**
 * Invariants between two states that forbid nothing the others do not already forbid are left
 * out, those that forbid most kept first: `pump == 1 implies mode == 0` makes `mode == 1 implies
 * pump == 0` and `mode == 2 implies pump == 0` repeat it, and one injected state would raise all three.
 */
function withoutRepeats(invs: MinedInvariant[]): MinedInvariant[] {
  const forbidden = new Set<string>();
  const order = [...invs].sort((x, y) => (y.forbids?.length ?? 0) - (x.forbids?.length ?? 0));
  const drop = new Set<MinedInvariant>();
  for (const inv of order) {
    if (inv.forbids === undefined) continue;
    if (inv.forbids.every((c) => forbidden.has(c))) drop.add(inv);
    else for (const c of inv.forbids) forbidden.add(c);
  }
  return invs.filter((x) => !drop.has(x));
}

/** A combination of two tags' values, the same whichever tag comes first. */
function combination(a: string, va: number, b: string, vb: number): string {
  return a < b ? `${a}\u0000${va}\u0000${b}\u0000${vb}` : `${b}\u0000${vb}\u0000${a}\u0000${va}`;
}

function mineRows(table: CycleTable, from: number, to: number, stats: ReadonlyMap<string, TagStats>, kinds: ReadonlyMap<string, TagKind>, o: LearnOptions): MinedInvariant[] {
  const names = table.names;
  const cols = new Map<string, Float64Array>();
  const col = (t: string) => {
    let c = cols.get(t);
    if (!c) cols.set(t, (c = table.column(names.indexOf(t)).subarray(from, to)));
    return c;
  };
  // Equipment states (on/off, modes): discrete tags with few values. A relation tied to one of many
  // values of a parameter is fitted to too few episodes to be trusted.
  const discrete = names.filter((n) => kinds.get(n) === 'discrete' && stats.get(n)!.distinct.size <= o.max_premise_values);
  // Measurements only: a set-point or tuning parameter bounded by a state is an operator's habit
  // in the learning window, not a property of the process.
  const continuous = names.filter((n) => kinds.get(n) === 'continuous' && !holdsValues(table.column(names.indexOf(n))));
  const n = to - from;
  const minSupport = Math.max(10, Math.ceil(o.min_support * n));
  const out: MinedInvariant[] = [];
  const pad = (t: string) => {
    const s = stats.get(t)!;
    return o.margin * s.span + o.noise * s.magnitude;
  };
  const bounded = new Set<string>();

  for (const a of discrete) {
    const ca = col(a);
    const values = [...stats.get(a)!.distinct.keys()].sort((x, y) => x - y);
    for (const va of values) {
      const rows: number[] = [];
      for (let i = 0; i < n; i++) if (ca[i] === va) rows.push(i);
      if (rows.length < minSupport) continue;
      // a == va fixes another discrete tag
      for (const b of discrete) {
        if (b === a) continue;
        const cb = col(b);
        const seen = new Set<number>();
        let known = 0;
        for (const i of rows) if (cb[i] === cb[i]) (seen.add(cb[i]), known++);
        const all = stats.get(b)!.distinct.size;
        if (known < minSupport || seen.size === 0 || seen.size >= all) continue;
        const vs = [...seen].sort((x, y) => x - y);
        const forbids = [...stats.get(b)!.distinct.keys()].filter((v) => !seen.has(v)).map((v) => combination(a, va, b, v));
        const rhs = vs.length === 1 ? `${exprName(b)} == ${vs[0]}` : `(${vs.map((v) => `${exprName(b)} == ${v}`).join(' or ')})`;
        out.push({ name: `${a}.${b}`, key: `d\u0000${a}\u0000${va}\u0000${b}`, expr: `${exprName(a)} == ${va} implies ${rhs}`, support: rows.length, episodes: runs(rows), evidence: `in ${rows.length} cycles with ${a} = ${va}, ${b} was only ${vs.join(' or ')} (of ${[...stats.get(b)!.distinct.keys()].sort((x, y) => x - y).join(', ')})`, forbids });
      }
      // a == va bounds a measurement
      for (const x of continuous) {
        const cx = col(x);
        let lo = Infinity, hi = -Infinity, known = 0;
        for (const i of rows) {
          const v = cx[i];
          if (v !== v) continue;
          known++;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        const s = stats.get(x)!;
        if (known < minSupport || hi - lo > 0.5 * s.span) continue;
        const m = pad(x);
        const parts: string[] = [];
        if (lo - m > s.min + 0.1 * s.span) parts.push(`${exprName(x)} >= ${sig(lo - m, 6)}`);
        if (hi + m < s.max - 0.1 * s.span) parts.push(`${exprName(x)} <= ${sig(hi + m, 6)}`);
        if (parts.length === 0) continue;
        bounded.add(`${a}\u0000${x}`);
        out.push({ name: `${a}.${x}`, key: `r\u0000${a}\u0000${va}\u0000${x}`, expr: `${exprName(a)} == ${va} implies ${parts.join(' and ')}`, support: rows.length, episodes: runs(rows), evidence: `in ${rows.length} cycles with ${a} = ${va}, ${x} stayed within ${sig(lo, 6)} .. ${sig(hi, 6)} (overall ${sig(s.min, 6)} .. ${sig(s.max, 6)})` });
      }
    }
  }

  // a measurement beyond a threshold fixes a state
  for (const x of continuous) {
    const cx = col(x);
    const s = stats.get(x)!;
    for (const b of discrete) {
      if (bounded.has(`${b}\u0000${x}`)) continue; // the contrapositive is already a rule
      const cb = col(b);
      for (const vb of stats.get(b)!.distinct.keys()) {
        let loOther = Infinity, hiOther = -Infinity;
        for (let i = 0; i < n; i++) {
          const v = cx[i];
          const w = cb[i];
          if (v !== v || w !== w || w === vb) continue;
          if (v < loOther) loOther = v;
          if (v > hiOther) hiOther = v;
        }
        const m = pad(x);
        for (const side of ['below', 'above'] as const) {
          const t = side === 'below' ? loOther - m : hiOther + m;
          if (!Number.isFinite(t)) continue;
          const hit: number[] = [];
          for (let i = 0; i < n; i++) if (side === 'below' ? cx[i] < t : cx[i] > t) hit.push(i);
          const support = hit.length;
          if (support < minSupport) continue;
          const op = side === 'below' ? '<' : '>';
          out.push({
            name: `${x}.${b}`,
            key: `t\u0000${x}\u0000${b}\u0000${vb}\u0000${side}`,
            expr: `${exprName(x)} ${op} ${sig(t, 6)} implies ${exprName(b)} == ${vb}`,
            support,
            episodes: runs(hit),
            evidence: `${b} was ${vb} whenever ${x} ${op} ${sig(side === 'below' ? loOther : hiOther, 6)} (${support} cycles${side === 'below' ? '' : ''}; ${x} overall ${sig(s.min, 6)} .. ${sig(s.max, 6)})`,
          });
        }
      }
    }
  }
  out.sort((a, b) => b.support - a.support);
  return out.slice(0, MAX_PER_DEVICE);
}
