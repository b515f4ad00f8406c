// Combinations of equipment states seen only once while learning, next to something odd. Two
// states that each come and go many times but were together in a single episode only (a mode
// with the pump on, where the pump was off in every other episode of that mode), which began,
// ended or was broken by cycles already left out (a scan, an injected value), are an event, not a
// way the plant runs: an injected command the master did not undo in time. Its cycles are left
// out of what is learned as normal, so the invariant it broke is learned.
import type { TagStats } from './stats.js';

/** Episodes each of the two states needs for a combination seen in one of them to be odd. */
const MIN_EPISODES = 5;

/** Consecutive used rows (skip[i] rows do not count and do not interrupt) in which pick(i) held, as separate runs. */
function episodes(n: number, skip: Uint8Array, pick: (i: number) => boolean): number[][] {
  const out: number[][] = [];
  let open = false;
  for (let i = 0; i < n; i++) {
    if (skip[i]) continue;
    if (pick(i)) {
      if (!open) out.push([]);
      out[out.length - 1].push(i);
      open = true;
    } else open = false;
  }
  return out;
}

/** Whether cycles already left out lie within an episode's rows or right next to it. */
function touchesSkipped(rows: readonly number[], skip: Uint8Array): boolean {
  const first = rows[0], last = rows[rows.length - 1];
  for (let i = Math.max(0, first - 1); i <= Math.min(skip.length - 1, last + 1); i++) if (skip[i]) return true;
  return false;
}

/**
 * Rows of the state combinations (value of a, value of b) seen in a single episode of the cycles
 * not skipped, where a's value and b's value were each seen in at least MIN_EPISODES episodes,
 * and the episode began, ended or was broken by cycles already left out (it came with something
 * odd). A rare combination in a window where nothing else was odd is a rare way the plant runs.
 * `cols`: the columns of the state tags (discrete tags of a few values), NaN = not known.
 */
export function loneCombinations(cols: ReadonlyMap<number, Float64Array>, stats: readonly TagStats[], skip: Uint8Array): number[] {
  const tags = [...cols.keys()];
  const n = skip.length;
  const rows = new Set<number>();
  const many = new Map<string, boolean>();
  const common = (j: number, v: number) => {
    const k = `${j}:${v}`;
    let m = many.get(k);
    if (m === undefined) many.set(k, (m = episodes(n, skip, (i) => cols.get(j)![i] === v).length >= MIN_EPISODES));
    return m;
  };
  for (let x = 0; x < tags.length; x++) {
    for (let y = x + 1; y < tags.length; y++) {
      const a = cols.get(tags[x])!, b = cols.get(tags[y])!;
      for (const va of stats[tags[x]].distinct.keys()) {
        if (!common(tags[x], va)) continue;
        for (const vb of stats[tags[y]].distinct.keys()) {
          if (!common(tags[y], vb)) continue;
          const e = episodes(n, skip, (i) => a[i] === va && b[i] === vb);
          if (e.length === 1 && touchesSkipped(e[0], skip)) for (const i of e[0]) rows.add(i);
        }
      }
    }
  }
  return [...rows].sort((p, q) => p - q);
}
