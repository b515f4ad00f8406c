// `otsentry central hash-password`: makes the password_hash of a console user. The password is
// read from the terminal (not echoed, asked twice) or, with --stdin, from the first line of
// standard input; never from the command line, where shell history and `ps` would keep it.
import type { Command } from 'commander';
import { DEFAULT_COST, hashPassword } from './password.js';

const MIN_LENGTH = 12;

async function readStdinLine(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) {
    chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    if (chunks.reduce((n, x) => n + x.length, 0) > 4096) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** Asks on the terminal with echo off. */
async function ask(prompt: string, out: NodeJS.WritableStream): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: what is typed after it is never echoed.
  stdin.setRawMode(true);
  stdin.resume();
  out.write(prompt);
  let text = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (b: Buffer) => {
        for (const ch of b.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return void (stdin.off('data', onData), resolve(text));
          if (ch === '\u0003') return void (stdin.off('data', onData), reject(new HashPasswordError('interrupted')));
          if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    out.write('\n');
  }
}

export class HashPasswordError extends Error {
  readonly code = 'hash_password';
}

export interface HashPasswordOptions {
  stdin?: boolean;
  input?: NodeJS.ReadableStream;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/** Prints the hash on stdout (one line) for the user's password_hash. */
export async function hashPasswordCommand(o: HashPasswordOptions): Promise<void> {
  const out = o.out ?? process.stdout;
  const err = o.err ?? process.stderr;
  let password: string;
  if (o.stdin || o.input) {
    password = await readStdinLine(o.input ?? process.stdin);
  } else {
    if (!process.stdin.isTTY) throw new HashPasswordError('no terminal to ask the password on; pipe it in with --stdin');
    password = await ask('Password: ', err);
    if ((await ask('Again: ', err)) !== password) throw new HashPasswordError('the two passwords differ; nothing printed');
  }
  if (password.length < MIN_LENGTH) throw new HashPasswordError(`the password has ${password.length} characters; use at least ${MIN_LENGTH}`);
  out.write(`${await hashPassword(password, DEFAULT_COST)}\n`);
}

/** Adds `hash-password` under the `central` command. */
export function addHashPasswordCommand(central: Command): void {
  central
    .command('hash-password')
    .description('make a console user\'s password_hash (scrypt): asks the password twice, or reads one line with --stdin')
    .option('--stdin', 'read the password from the first line of standard input')
    .action(async (opts: { stdin?: boolean }) => hashPasswordCommand({ stdin: opts.stdin }));
}
