// The console section `otsentry demo` gives its central process: one responder with a fresh random
// password on a free loopback port, so the demo prints where to log in and with what.
import { randomBytes } from 'node:crypto';
import type { ConsoleConfig } from './config.js';
import { consoleConfigSchema } from './config.js';
import { hashPassword } from './password.js';

export interface DemoConsole {
  /** the `console:` section for the demo's central.yaml */
  section: ConsoleConfig;
  login: { name: string; password: string };
}

/** `port` 0 takes a free one (the central part's url tells which). */
export async function demoConsole(port = 0): Promise<DemoConsole> {
  const password = randomBytes(12).toString('base64url');
  const name = 'demo';
  // A lower scrypt cost than `hash-password`: the password lives as long as the demo, on loopback.
  const section = consoleConfigSchema.parse({ listen: `127.0.0.1:${port}`, users: [{ name, role: 'responder', password_hash: await hashPassword(password, { ln: 14, r: 8, p: 1 }) }] });
  return { section, login: { name, password } };
}
