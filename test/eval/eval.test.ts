// The evaluation on the public datasets (`npm run eval`) as a regression guard: the figures it
// reports must not get worse. Skips, saying why, when the data folder is absent.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { evalBatadal } from '../../bench/eval/batadal.js';
import { evalMsu } from '../../bench/eval/msu.js';
import { batadalReport, dataDir, msuReport, runEval } from '../../bench/eval/run.js';

const saved = process.env.OTSENTRY_DATA;
afterEach(() => {
  if (saved === undefined) delete process.env.OTSENTRY_DATA;
  else process.env.OTSENTRY_DATA = saved;
});
const DATA = dataDir();
const present = fs.existsSync(DATA);
if (!present) console.info(`evaluation tests skipped: no data folder at ${DATA} (set OTSENTRY_DATA)`);

describe('npm run eval', () => {
  it('skips with a message when the data folder is absent', async () => {
    process.env.OTSENTRY_DATA = path.join(DATA, 'no-such-folder');
    const out: string[] = [];
    await runEval((s) => out.push(s));
    expect(out).toEqual([`eval skipped: no data folder at ${path.join(DATA, 'no-such-folder')} (it holds the public datasets; set OTSENTRY_DATA to another folder)`]);
  });

  it.skipIf(!present)('BATADAL: S above 0.90, every attack detected', async () => {
    const r = await evalBatadal(path.join(DATA, 'batadal'));
    expect(r.S).toBeGreaterThan(0.9);
    expect(r.score.attacks).toHaveLength(7);
    for (const a of r.score.attacks) expect(a.ttd_ms, `attack ${a.id}`).toBeDefined();
    expect(r.score.tnr).toBeGreaterThan(0.95);
    expect(batadalReport(r, 1000)).toMatch(/aim S > 0\.90 .*: met/);
  });

  it.skipIf(!present)('MSU gas pipeline: every burst category seen, scans and diagnostics attacks all caught', async () => {
    const r = await evalMsu(path.join(DATA, 'msu-gas-pipeline', 'dev.csv.gz'));
    const by = Object.fromEntries(r.categories.map((c) => [c.name, c]));
    for (const c of r.categories) expect(c.bursts, c.name).toBeGreaterThan(0);
    expect(by.MFCI.detected).toBe(by.MFCI.bursts);
    expect(by.Recon.detected).toBe(by.Recon.bursts);
    expect(by.MPCI.detected / by.MPCI.bursts).toBeGreaterThan(0.9);
    const all = r.categories.reduce((a, c) => [a[0] + c.detected, a[1] + c.bursts], [0, 0]);
    expect(all[0] / all[1]).toBeGreaterThan(0.8);
    expect(r.false_alarms / r.normal_hours).toBeLessThan(0.5);
    expect(msuReport(r, 1000)).toContain('category  bursts  detected');
  });
});
