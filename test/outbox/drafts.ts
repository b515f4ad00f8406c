// Draft factories and a temp-dir helper shared by the outbox and forwarder tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Severity, SignalDraft } from '../../rules/signal.js';
import type { OutboxConfig } from '../../agent/config/schema.js';
import { ephemeralSigner } from '../../agent/signing/keys.js';

/** One key for every outbox a test file opens, so reopening a file keeps its chain's key. */
export const testSigner = ephemeralSigner();

export const roomyLimits: OutboxConfig = { max_events: 1_000_000, max_bytes: 512 * 1024 * 1024, max_age_hours: 720 };

let n = 0;
export function draft(over: Partial<SignalDraft> = {}): SignalDraft {
  n++;
  return {
    ts: new Date(Date.UTC(2025, 0, 1, 0, 0, n % 60)).toISOString(),
    device: 'plc-1',
    tag: 'pump_speed',
    rule: 'range.pump_speed',
    category: 'anomaly',
    severity: 'low',
    state: 'raised',
    score: 10,
    message: `Pump speed out of range (${n}).`,
    observed: 1500 + n,
    expected: { min: 0, max: 1450 },
    evidence: { window_s: 60 },
    ...over,
  };
}

export function drafts(count: number, over: Partial<SignalDraft> = {}): SignalDraft[] {
  return Array.from({ length: count }, () => draft(over));
}

export function bySeverity(severity: Severity, count: number): SignalDraft[] {
  return drafts(count, { severity });
}

export function tempDir(prefix = 'otsentry-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
