// The `console:` section of central.yaml: where the web console listens, TLS, users and roles,
// sessions and login limits. Absent (or enabled: false): no console.
import { z } from 'zod';
import { secretRefSchema } from '../../config/schema.js';
import { passwordHashProblem } from './password.js';

export const CONSOLE_ROLES = ['viewer', 'responder'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

export const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/;

export const consoleUserSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'use 1-64 letters, digits, _ . @ and -').describe('Login name, recorded with every response step'),
    role: z.enum(CONSOLE_ROLES).describe('viewer: read-only; responder: also acknowledges, assigns, annotates and resolves alerts'),
    password_hash: z
      .string()
      .superRefine((s, ctx) => {
        const p = passwordHashProblem(s);
        if (p) ctx.addIssue({ code: 'custom', message: p });
      })
      .describe('Made by `otsentry central hash-password` (scrypt); never the password itself'),
  })
  .strict();

export const consoleTlsSchema = z
  .object({
    cert_file: z.string().min(1).describe('Server certificate chain (PEM); relative to the config file'),
    key_file: z.string().min(1).describe('Server private key (PEM); relative to the config file'),
    key_passphrase: secretRefSchema.optional().describe('Passphrase of key_file'),
  })
  .strict();

export const consoleConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve the console (false keeps the section but turns it off)'),
    listen: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[^\s:[\]]+):\d{1,5}$/, 'use host:port, e.g. 127.0.0.1:8470')
      .default('127.0.0.1:8470')
      .describe('Address the console listens on; loopback by default'),
    tls: consoleTlsSchema.optional().describe('Serve HTTPS with this certificate (required to listen beyond loopback)'),
    allowed_hosts: z
      .array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a host name, optionally with :port'))
      .default([])
      .describe('On a loopback listen address, Host headers other than the loopback names are refused (DNS rebinding); a reverse proxy that passes its own host name lists it here'),
    users: z.array(consoleUserSchema).min(1, 'add at least one user (name, role, password_hash)').describe('Who may log in'),
    session_idle_mins: z.number().int().min(1).max(24 * 60).default(30).describe('A session ends after this long without a request'),
    session_max_hours: z.number().int().min(1).max(7 * 24).default(12).describe('A session ends this long after login, active or not'),
    login_max_failures: z.number().int().min(1).max(1000).default(5).describe('Failed logins per user name or client address before logins from it wait'),
    login_window_secs: z.number().int().min(1).max(86_400).default(900).describe('Window of login_max_failures, and how long a blocked login waits'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.users.forEach((u, i) => {
      if (seen.has(u.name)) ctx.addIssue({ code: 'custom', path: ['users', i, 'name'], message: `user '${u.name}' is listed twice` });
      seen.add(u.name);
    });
    const host = c.listen.slice(0, c.listen.lastIndexOf(':'));
    if (c.enabled && c.tls === undefined && !LOOPBACK.test(host)) {
      ctx.addIssue({ code: 'custom', path: ['listen'], message: `${host} is not loopback: passwords and session cookies would cross the network in clear; set console.tls (cert_file, key_file) or listen on 127.0.0.1 behind a TLS reverse proxy` });
    }
  })
  .describe('Web console for the security team');

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
export type ConsoleUser = z.infer<typeof consoleUserSchema>;
