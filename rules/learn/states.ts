// Combinations of equipment states seen only once while learning, next to something odd. Two
// states that each come and go many times but were together in a single episode only (a mode
// with the pump on, where the pump was off in every other episode of that mode), which began,
// ended or was broken by cycles already left out (a scan, an injected value), are an event, not a
// way the plant runs: an injected command the master did not undo in time. Its cycles are left
// out of what is learned as normal, so the invariant it broke is learned.

/** Episodes each of the two states needs for a combination seen in one of them to be odd. */
const MIN_EPISODES = 5;

/**
 * Per key (a value, or a combination of values, per used row; undefined = not known), its
 * episodes: runs of consecutive used rows with that key (skipped rows do not count and do not
 * interrupt a run), and the rows of its first episode.
 */
function episodes(n: number, skip: Uint8Array, key: (i: number) => string | number | undefined): Map<string | number, { count: number; first: number[] }> {
  const out = new Map<string | number, { count: number; first: number[] }>();
  let prev: string | number | undefined;
  for (let i = 0; i < n; i++) {
    if (skip[i]) continue;
    const k = key(i);
    if (k === undefined) {
      prev = undefined;
      continue;
    }
    let e = out.get(k);
    if (e === undefined) out.set(k, (e = { count: 0, first: [] }));
    if (k !== prev) e.count++;
    if (e.count === 1) e.first.push(i);
    prev = k;
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
export function loneCombinations(cols: ReadonlyMap<number, Float64Array>, skip: Uint8Array): number[] {
  const n = skip.length;
  const tags = [...cols.values()];
  const known = (v: number) => (v === v ? v : undefined);
  const single = tags.map((c) => episodes(n, skip, (i) => known(c[i])));
  const rows = new Set<number>();
  for (let x = 0; x < tags.length; x++) {
    for (let y = x + 1; y < tags.length; y++) {
      const a = tags[x], b = tags[y];
      const pairs = episodes(n, skip, (i) => (a[i] === a[i] && b[i] === b[i] ? `${a[i]}\u0000${b[i]}` : undefined));
      for (const [k, e] of pairs) {
        if (e.count !== 1) continue;
        const [va, vb] = String(k).split('\u0000').map(Number);
        if ((single[x].get(va)?.count ?? 0) < MIN_EPISODES || (single[y].get(vb)?.count ?? 0) < MIN_EPISODES) continue;
        if (touchesSkipped(e.first, skip)) for (const i of e.first) rows.add(i);
      }
    }
  }
  return [...rows].sort((p, q) => p - q);
}
