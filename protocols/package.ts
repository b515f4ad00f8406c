// Where otsentry's own files are: the package root (holding package.json and the sample
// configs) and its version. Works from the sources (tests) and from dist/ (the built CLI).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;
let version: string | undefined;

function readPackage(dir: string): { name?: string; version?: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
  } catch {
    return undefined;
  }
}

/** The folder holding otsentry's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const pkg = readPackage(dir);
    if (pkg?.name === 'otsentry') {
      version = pkg.version ?? '0.0.0';
      return (root = dir);
    }
  }
  throw new Error('otsentry installation is incomplete: package.json not found above ' + fileURLToPath(import.meta.url));
}

/** otsentry's version from its package.json. */
export function packageVersion(): string {
  if (version === undefined) packageRoot();
  return version ?? '0.0.0';
}
