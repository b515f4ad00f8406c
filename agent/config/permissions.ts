// File mode rules for what the agent reads and keeps: secrets (passwords, private keys,
// passphrases) must not be readable by group or others; config and rules files must not be
// writable by them. Only the mode bits are judged (root can read any file, whatever its mode).
// Each message names the file and the exact chmod that fixes it.
import fs from 'node:fs';

const GROUP_OTHER_ANY = 0o077;
const GROUP_OTHER_WRITE = 0o022;

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, '0');
}

function who(bits: number): string {
  const g = (bits & 0o070) !== 0, o = (bits & 0o007) !== 0;
  return g && o ? 'group and others' : g ? 'its group' : 'others';
}

/** The file's permission bits, or undefined when it cannot be stat'ed (its reader reports that). */
function modeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).mode & 0o777;
  } catch {
    return undefined;
  }
}

/**
 * Why a secret file (password, private key, key passphrase) must be refused, or undefined when
 * its mode is safe: only the owner may have access, e.g. 0600 or 0400.
 */
export function secretFileProblem(file: string): string | undefined {
  const mode = modeOf(file);
  if (mode === undefined || (mode & GROUP_OTHER_ANY) === 0) return undefined;
  return `secret file ${file} can be accessed by ${who(mode & GROUP_OTHER_ANY)} (mode ${octal(mode)}); run chmod ${octal(mode & 0o700 || 0o400)} ${file}`;
}

/** Why a config or rules file is unsafe (others can change what the agent does), or undefined. */
export function writableFileProblem(file: string, what = 'file'): string | undefined {
  const mode = modeOf(file);
  if (mode === undefined || (mode & GROUP_OTHER_WRITE) === 0) return undefined;
  return `${what} ${file} is writable by ${who(mode & GROUP_OTHER_WRITE)} (mode ${octal(mode)}), who could change what the agent does; run chmod ${octal(mode & ~GROUP_OTHER_WRITE)} ${file}`;
}

/** Why a folder that holds keys and the outbox is too open (anything beyond the owner), or undefined. */
export function privateDirProblem(dir: string): string | undefined {
  const mode = modeOf(dir);
  if (mode === undefined || (mode & GROUP_OTHER_ANY) === 0) return undefined;
  return `folder ${dir} can be accessed by ${who(mode & GROUP_OTHER_ANY)} (mode ${octal(mode)}); run chmod 700 ${dir}`;
}
