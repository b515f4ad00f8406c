// `npm run soak`: the long versions of the fault suite of issue 8, one section each; every section
// prints its own figures (never asserts a time). `npm test` runs the short versions as tests.
// Usage: npm run soak [-- SECTION ...]   (default: every section, in the order below)
import os from 'node:os';
import { SECTIONS } from './sections.js';

async function main(): Promise<number> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !SECTIONS.some((s) => s.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`soak: unknown section ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.name).join(' ')}\n`);
    return 2;
  }
  const run = wanted.length === 0 ? SECTIONS : SECTIONS.filter((s) => wanted.includes(s.name));
  process.stdout.write(`otsentry soak on ${os.cpus().length} cores, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  let failed = 0;
  for (const s of run) {
    process.stdout.write(`\n== ${s.name}: ${s.title}\n`);
    const t0 = Date.now();
    try {
      const ok = await s.run((line) => process.stdout.write(`  ${line}\n`));
      if (!ok) failed++;
      process.stdout.write(`  -> ${ok ? 'PASS' : 'FAIL'} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    } catch (e) {
      failed++;
      process.stdout.write(`  -> FAIL: ${(e as Error).message}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

main().then((code) => (process.exitCode = code));
