// Scoring a replay against labels: per-cycle confusion counts, precision, recall, false-positive
// rate, and per attack (a run of labelled cycles, or a given window) the time to detect.

export interface AttackScore {
  /** 1-based, in time order */
  id: number;
  start: number;
  end: number;
  /** labelled cycles in the attack */
  rows: number;
  /** timestamp of the first flagged cycle inside the attack */
  detected_at?: number;
  ttd_ms?: number;
  /** cycles before the first flagged one, over the attack's cycles (1 when missed) */
  ttd_share: number;
  /** flagged cycles in the attack */
  flagged: number;
}

export interface LabelScore {
  rows: number;
  attack_rows: number;
  normal_rows: number;
  unknown_rows: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  precision: number;
  /** also the true-positive rate */
  recall: number;
  fpr: number;
  tnr: number;
  attacks: AttackScore[];
}

/** A cycle as the scorer sees it: its time, its label (1, 0 or NaN) and whether any condition was active. */
export interface ScoredRow {
  ts: number;
  label: number;
  flagged: boolean;
}

/**
 * Score cycles. Attacks are the given windows [start, end] (inclusive) or, without them, the runs
 * of consecutive label-1 cycles.
 */
export function scoreRows(rows: readonly ScoredRow[], windows?: ReadonlyArray<readonly [number, number]>): LabelScore {
  let tp = 0, fp = 0, tn = 0, fn = 0, unknown = 0;
  for (const r of rows) {
    if (r.label === 1) r.flagged ? tp++ : fn++;
    else if (r.label === 0) r.flagged ? fp++ : tn++;
    else unknown++;
  }
  const spans: Array<[number, number]> = [];
  if (windows) {
    for (const [s, e] of windows) {
      const idx: number[] = [];
      rows.forEach((r, i) => {
        if (r.ts >= s && r.ts <= e) idx.push(i);
      });
      if (idx.length) spans.push([idx[0], idx[idx.length - 1]]);
    }
  } else {
    let open = -1;
    rows.forEach((r, i) => {
      if (r.label === 1 && open < 0) open = i;
      if (r.label !== 1 && open >= 0) {
        spans.push([open, i - 1]);
        open = -1;
      }
    });
    if (open >= 0) spans.push([open, rows.length - 1]);
  }
  const attacks = spans.map(([a, b], k): AttackScore => {
    let first = -1;
    let flagged = 0;
    for (let i = a; i <= b; i++) {
      if (!rows[i].flagged) continue;
      flagged++;
      if (first < 0) first = i;
    }
    const n = b - a + 1;
    const out: AttackScore = { id: k + 1, start: rows[a].ts, end: rows[b].ts, rows: n, ttd_share: first < 0 ? 1 : (first - a) / n, flagged };
    if (first >= 0) {
      out.detected_at = rows[first].ts;
      out.ttd_ms = rows[first].ts - rows[a].ts;
    }
    return out;
  });
  const div = (a: number, b: number) => (b === 0 ? NaN : a / b);
  return {
    rows: rows.length,
    attack_rows: tp + fn,
    normal_rows: tn + fp,
    unknown_rows: unknown,
    tp,
    fp,
    tn,
    fn,
    precision: div(tp, tp + fp),
    recall: div(tp, tp + fn),
    fpr: div(fp, fp + tn),
    tnr: div(tn, tn + fp),
    attacks,
  };
}

/** The BATADAL score: S = 0.5 S_TTD + 0.5 S_CM, S_TTD = 1 - mean(ttd share), S_CM = (TPR + TNR) / 2. */
export function batadalScore(s: LabelScore): { S: number; S_TTD: number; S_CM: number } {
  const sTtd = s.attacks.length ? 1 - s.attacks.reduce((a, x) => a + x.ttd_share, 0) / s.attacks.length : NaN;
  const sCm = (s.recall + s.tnr) / 2;
  return { S: 0.5 * sTtd + 0.5 * sCm, S_TTD: sTtd, S_CM: sCm };
}
