// The layering checker (.dependency-cruiser.cjs, run by `npm test`) fails on an import against the
// direction of DESIGN.md: a throwaway tree in a temp folder holds one wrong import per rule.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const depcruise = path.join(repo, 'node_modules', '.bin', 'depcruise');
const config = path.join(repo, '.dependency-cruiser.cjs');
const dirs: string[] = [];

/** Write `files` (path → source) into a fresh folder laid out like the repo and check it. */
function cruise(files: Record<string, string>): { code: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-layers-'));
  dirs.push(dir);
  fs.copyFileSync(path.join(repo, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  const tops = ['agent', 'protocols', 'rules', 'simulators', 'bench'].filter((t) => fs.existsSync(path.join(dir, t)));
  const r = spawnSync(depcruise, [...tops, '--config', config, '--output-type', 'err'], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

const base = {
  'protocols/types.ts': 'export interface Sample { tag: string }\n',
  'rules/engine.ts': "import type { Sample } from '../protocols/types.js';\nexport const judge = (s: Sample) => s.tag;\n",
  'agent/daemon.ts': "import { judge } from '../rules/engine.js';\nexport const run = () => judge({ tag: 't' });\n",
  'simulators/plc.ts': 'export const plc = 1;\n',
  'agent/cli/simulate.ts': "import { plc } from '../../simulators/plc.js';\nexport const sim = plc;\n",
};

afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('layering checker', () => {
  it('passes the layered tree', () => {
    const r = cruise(base);
    expect(r.out).toContain('no dependency violations');
    expect(r.code).toBe(0);
  });

  it.each([
    ['rules-below-agent', 'rules/bad.ts', "import type { run } from '../agent/daemon.js';\nexport type R = typeof run;\n"],
    ['protocols-are-the-bottom', 'protocols/bad.ts', "import { judge } from '../rules/engine.js';\nexport const j = judge;\n"],
    ['simulators-stand-beside', 'simulators/bad.ts', "import { run } from '../agent/daemon.js';\nexport const r = run;\n"],
    ['simulators-only-from-cli-demo-tests-bench', 'agent/scheduler.ts', "import { plc } from '../simulators/plc.js';\nexport const p = plc;\n"],
    ['no-circular', 'agent/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n"],
  ])('fails on %s', (rule, file, text) => {
    const extra: Record<string, string> = { [file]: text };
    if (rule === 'no-circular') extra['agent/b.ts'] = "import { a } from './a.js';\nexport const b = () => a;\n";
    const r = cruise({ ...base, ...extra });
    expect(r.out).toContain(rule);
    expect(r.code).not.toBe(0);
  });
});
