// Detector `posture`: the security configuration of an OPC UA server, from the posture facts the
// poller gathers on its own cadence (the endpoints the server offers, its certificate, its clock).
// Raises when an insecure policy or anonymous login is offered, when the certificate changes,
// has expired or expires soon, and when the server clock drifts; each is its own alert.
import { z } from 'zod';
import { SEVERITIES } from './signal.js';
import type { Fact } from '../protocols/types.js';
import { defineDetector } from './detector.js';
import { makeFinding, type TypeTexts } from './finding.js';
import type { Detector, FindingSink, ResolvedRule } from './types.js';

export const POSTURE_CHECKS = ['insecure_policy', 'anonymous_login', 'certificate_changed', 'certificate_expired', 'certificate_expiring', 'clock_drift'] as const;
type Check = (typeof POSTURE_CHECKS)[number];

const DAY_MS = 86_400_000;

const params = {
  checks: z.array(z.enum(POSTURE_CHECKS)).min(1).default([...POSTURE_CHECKS]).describe('Conditions this rule watches'),
  forbidden_policies: z
    .array(z.string().min(1))
    .default(['None', 'Basic128Rsa15', 'Basic256'])
    .describe('Security policies that must not be offered on any endpoint (None, and the deprecated SHA-1 ones)'),
  expected_thumbprint: z
    .string()
    .regex(/^[0-9a-fA-F:]{40,59}$/, 'a SHA-1 thumbprint: 40 hex digits (colons allowed)')
    .optional()
    .describe('Approved server certificate; omitted: the first certificate seen is trusted (trust on first use)'),
  expiry_warning_days: z.number().min(0).max(3650).default(30).describe('Raise certificate_expiring this many days before the certificate expires'),
  max_clock_drift_ms: z.number().int().min(0).default(5000).describe('Largest allowed difference between the server clock and the agent clock'),
  severities: z
    .partialRecord(z.enum(POSTURE_CHECKS), z.enum(SEVERITIES))
    .optional()
    .describe('Severity per check, overriding the rule severity (e.g. certificate_expiring: medium)'),
};
type Params = z.output<z.ZodObject<typeof params>>;

const texts: TypeTexts = {
  '': {
    message: '{device}: {detail}',
    clear_message: '{device}: {detail}',
    response: 'Review the OPC UA server security configuration against the approved one.',
  },
  insecure_policy: {
    message: '{device} offers insecure endpoints: {detail}',
    clear_message: '{device} offers no insecure endpoint any more',
    response: 'Remove the None and deprecated (Basic128Rsa15, Basic256) endpoints from the server configuration; ask who added them.',
  },
  anonymous_login: {
    message: '{device} accepts anonymous logins on {detail}',
    clear_message: '{device} no longer accepts anonymous logins',
    response: 'Turn anonymous access off on the server; anyone on the network can read (and maybe write) the process with it.',
  },
  certificate_changed: {
    message: '{device} presents another certificate: {detail}',
    clear_message: '{device} presents its approved certificate again',
    response: 'Ask whether the server certificate was renewed under a change order; if not, suspect a replaced server or a man in the middle and isolate it.',
  },
  certificate_expired: {
    message: '{device} certificate is not valid now: {detail}',
    clear_message: '{device} certificate is valid again',
    response: 'Renew the server certificate and trust the new one (otsentry trust); clients refuse expired certificates.',
  },
  certificate_expiring: {
    message: '{device} certificate expires in {days_left} days ({detail})',
    clear_message: '{device} certificate no longer expires soon',
    response: 'Plan the certificate renewal before it expires, then trust the new certificate (otsentry trust).',
  },
  clock_drift: {
    message: '{device} clock is off by {offset_s} s (limit {limit_s} s)',
    clear_message: '{device} clock agrees with the agent again ({offset_s} s)',
    response: "Check the server's time synchronisation (NTP); a wrong clock breaks certificate checks and event times, and can hide tampering.",
  },
};

interface EndpointFact {
  security_policy?: unknown;
  security_mode?: unknown;
  user_tokens?: unknown;
}

const normalize = (t: string): string => t.replace(/[^0-9a-f]/gi, '').toLowerCase();

class PostureDetector implements Detector {
  readonly tags = [] as const;
  readonly factKinds = ['posture'] as const;
  readonly cycle = false;
  readonly timed = false;
  private readonly active = new Set<Check>();
  private expected: string | undefined;
  private readonly checks: ReadonlySet<Check>;

  constructor(readonly rule: ResolvedRule<Params>) {
    this.checks = new Set(rule.params.checks);
    if (rule.params.expected_thumbprint) this.expected = normalize(rule.params.expected_thumbprint);
  }

  onFact(f: Fact, out: FindingSink): void {
    const d = f.data;
    const p = this.rule.params;
    const endpoints = Array.isArray(d.endpoints) ? (d.endpoints as EndpointFact[]) : [];
    if (this.checks.has('insecure_policy') && endpoints.length > 0) {
      const forbidden = new Set(p.forbidden_policies);
      const bad = endpoints.filter((e) => forbidden.has(String(e.security_policy)) || e.security_mode === 'None').map((e) => `${String(e.security_policy)}/${String(e.security_mode)}`);
      const list = [...new Set(bad)];
      this.judge('insecure_policy', list.length > 0, f, out, { detail: list.join(', ') }, list, p.forbidden_policies);
    }
    if (this.checks.has('anonymous_login') && endpoints.length > 0) {
      const anon = endpoints.filter((e) => Array.isArray(e.user_tokens) && (e.user_tokens as unknown[]).includes('anonymous')).map((e) => `${String(e.security_policy)}/${String(e.security_mode)}`);
      this.judge('anonymous_login', anon.length > 0, f, out, { detail: anon.join(', ') }, anon, []);
    }
    const thumb = typeof d.cert_thumbprint === 'string' ? normalize(d.cert_thumbprint) : undefined;
    if (this.checks.has('certificate_changed') && thumb) {
      if (this.expected === undefined) this.expected = thumb; // trust on first use
      const changed = thumb !== this.expected;
      const detail = changed ? `thumbprint ${thumb} (${String(d.cert_subject ?? '?')}, valid until ${String(d.cert_not_after ?? '?').slice(0, 10)}), approved ${this.expected}` : `thumbprint ${thumb}`;
      this.judge('certificate_changed', changed, f, out, { detail }, thumb, this.expected, { subject: d.cert_subject, learned: p.expected_thumbprint === undefined });
    }
    const notAfter = typeof d.cert_not_after === 'string' ? Date.parse(d.cert_not_after) : Number.NaN;
    const notBefore = typeof d.cert_not_before === 'string' ? Date.parse(d.cert_not_before) : Number.NaN;
    if (Number.isFinite(notAfter)) {
      const expired = f.ts > notAfter || (Number.isFinite(notBefore) && f.ts < notBefore);
      const daysLeft = Math.floor((notAfter - f.ts) / DAY_MS);
      const vars = { detail: `valid ${String(d.cert_not_before ?? '?').slice(0, 10)} to ${String(d.cert_not_after).slice(0, 10)}`, days_left: daysLeft };
      if (this.checks.has('certificate_expired')) this.judge('certificate_expired', expired, f, out, vars, d.cert_not_after, undefined);
      if (this.checks.has('certificate_expiring')) this.judge('certificate_expiring', !expired && daysLeft < p.expiry_warning_days, f, out, vars, d.cert_not_after, `${p.expiry_warning_days} days`);
    }
    if (this.checks.has('clock_drift') && typeof d.clock_offset_ms === 'number') {
      const off = d.clock_offset_ms;
      const vars = { offset_s: Math.round(off / 100) / 10, limit_s: p.max_clock_drift_ms / 1000, detail: `clock offset ${off} ms` };
      this.judge('clock_drift', Math.abs(off) > p.max_clock_drift_ms, f, out, vars, off, p.max_clock_drift_ms);
    }
  }

  /** Emit a finding when a check's state changes. */
  private judge(check: Check, bad: boolean, f: Fact, out: FindingSink, vars: Record<string, unknown>, observed: unknown, expected: unknown, evidence?: Record<string, unknown>): void {
    if (bad === this.active.has(check)) return;
    if (bad) this.active.add(check);
    else this.active.delete(check);
    const finding = makeFinding(this.rule, texts, {
      active: bad,
      ts: f.ts,
      condition: check,
      observed,
      expected,
      evidence: bad ? { endpoint_url: f.data.endpoint_url, ...evidence } : undefined,
      vars,
    });
    const sev = this.rule.params.severities?.[check];
    if (sev && this.rule.review === undefined) finding.severity = sev; // a rule in review signals at info
    out.push(finding);
  }
}

export const postureType = defineDetector({
  type: 'posture',
  description: 'OPC UA security posture: insecure endpoints, anonymous login, server certificate change and expiry, clock drift.',
  params,
  defaults: { category: 'posture', severity: 'high' },
  texts,
  vars: ['detail', 'days_left', 'offset_s', 'limit_s'],
  tagMode: 'none',
  create: (rule) => new PostureDetector(rule),
});
