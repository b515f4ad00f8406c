// The evaluation on the public datasets (`npm run eval`) as a guard: the figures it reports are
// asserted against the aims of issue 10 where they are met, and at their current level where they
// are not (the report says NOT met; see the README). Skips, saying why, when the data folder is absent.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { evalBatadal } from '../../bench/eval/batadal.js';
import { evalMsu, falsePerDay } from '../../bench/eval/msu.js';
import { BATADAL_AIM, batadalReport, dataDir, MSU_AIMS, msuReport, runEval } from '../../bench/eval/run.js';

const saved = process.env.OTSENTRY_DATA;
afterEach(() => {
  if (saved === undefined) delete process.env.OTSENTRY_DATA;
  else process.env.OTSENTRY_DATA = saved;
});
const DATA = dataDir();
const present = fs.existsSync(DATA);
if (!present) console.info(`evaluation tests skipped: no data folder at ${DATA} (set OTSENTRY_DATA)`);

/** Share of bursts per category: the aim (0.95) where met, else the figure measured when this was written. */
/** Learning and replaying a dataset takes seconds alone, far longer on a loaded machine. */
const SLOW = 180_000;

const MSU_FLOORS: Record<string, number> = { NMRI: MSU_AIMS.burst_share, CMRI: MSU_AIMS.burst_share, MSCI: 0.83, MPCI: MSU_AIMS.burst_share, MFCI: MSU_AIMS.burst_share, DoS: 0, Recon: MSU_AIMS.burst_share };
/**
 * False alarms in the scored part: the one measured when this was written (2.7/day, aim NOT met):
 * mode 1 with the pump on, written by the one frame labelled normal that sets it, 2.5 s before an
 * MSCI burst that writes the same state.
 */
const MSU_MAX_FALSE = 1;

describe('npm run eval', () => {
  it('skips with a message when the data folder is absent', async () => {
    process.env.OTSENTRY_DATA = path.join(DATA, 'no-such-folder');
    const out: string[] = [];
    await runEval((s) => out.push(s));
    expect(out).toEqual([`eval skipped: no data folder at ${path.join(DATA, 'no-such-folder')} (it holds the public datasets; set OTSENTRY_DATA to another folder)`]);
  });

  it.skipIf(!present)('BATADAL: S at least 0.96 (above the aim 0.95), every attack detected', async () => {
    const r = await evalBatadal(path.join(DATA, 'batadal'));
    expect(r.S).toBeGreaterThanOrEqual(0.96);
    expect(r.score.attacks).toHaveLength(7);
    for (const a of r.score.attacks) expect(a.ttd_ms, `attack ${a.id}`).toBeDefined();
    expect(r.score.tnr).toBeGreaterThan(0.97);
    expect(batadalReport(r, 1000)).toContain(r.S >= BATADAL_AIM ? ': met' : `NOT met (S ${r.S.toFixed(3)})`);
  }, SLOW);

  it.skipIf(!present)('MSU gas pipeline, learned on all traffic (labels unused), no response-time model: false alarms and per category detection at least at their floors', async () => {
    const r = await evalMsu(path.join(DATA, 'msu-gas-pipeline', 'dev.csv.gz'));
    expect(r.settings).toMatchObject({ label_filtered: false, rtt_model: false });
    expect(r.false_alarms.length, r.false_alarms.map((x) => x.rule).join(', ')).toBeLessThanOrEqual(MSU_MAX_FALSE);
    for (const c of r.categories) {
      expect(c.bursts, c.name).toBeGreaterThan(0);
      expect(c.detected / c.bursts, `${c.name}: ${c.detected} of ${c.bursts}`).toBeGreaterThanOrEqual(MSU_FLOORS[c.name]);
    }
    const report = msuReport(r, 1000);
    const short = r.categories.filter((c) => c.detected / c.bursts < MSU_AIMS.burst_share).map((c) => c.name);
    expect(report).toContain(short.length ? 'aim >= 95% of bursts in every category: NOT met' : 'aim >= 95% of bursts in every category: met');
    for (const n of short) expect(report).toMatch(new RegExp(`NOT met \\([^)]*${n} `));
    expect(report).toContain(falsePerDay(r) < MSU_AIMS.false_per_day ? 'aim < 1 false alarm/day: met' : `aim < 1 false alarm/day: NOT met (${falsePerDay(r).toFixed(1)}/day)`);
    // every false alarm is listed with the bursts that follow it, and with the frame that set what it raised on
    for (const x of r.false_alarms) expect(report).toContain(x.rule.replace('pipeline-plc.', ''));
    expect(r.false_causes).toHaveLength(r.false_alarms.length);
    r.false_causes.forEach((c, i) => {
      expect(c, r.false_alarms[i].rule).toBeDefined();
      expect(c!.ts).toBeLessThanOrEqual(r.false_alarms[i].ts);
      expect(c!.category === 0 ? c!.normal : c!.attack).toBeGreaterThanOrEqual(1); // the frame itself
      expect(report).toContain(`set by a frame labelled ${['Normal', 'NMRI', 'CMRI', 'MSCI', 'MPCI', 'MFCI', 'DoS', 'Recon'][c!.category]}`);
    });
  }, SLOW);

  it.skipIf(!present)('MSU: one raise credits at most one burst, and the upper bound is labelled as such', async () => {
    const file = path.join(DATA, 'msu-gas-pipeline', 'dev.csv.gz');
    const r = await evalMsu(file);
    const detected = r.bursts.filter((b) => b.detected_at !== undefined);
    const byRaise = new Set(detected.map((b) => `${b.detected_at}\u0000${b.detected_by}`));
    expect(byRaise.size).toBe(detected.length);
    const upper = await evalMsu(file, { label_filtered: true });
    expect(msuReport(r, 1000, { label_filtered: upper })).toContain('UPPER BOUND, learned on label-filtered normal traffic (no user can do this)');
  }, SLOW);
});
