// Signing and verification figures: Ed25519 sign/verify per signal, outbox commits/s with
// signing (batch 1 and 100), and how fast `otsentry verify`'s logic checks a capture.
// Run: npx tsc -p tsconfig.json && node dist/bench/signing.js   (prints figures, asserts nothing)
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SqliteOutbox } from '../agent/outbox/index.js';
import { ephemeralSigner, keyIdOf } from '../agent/signing/keys.js';
import type { RiskSignal, SignalDraft } from '../rules/signal.js';
import { verifySignals } from '../agent/verify/verify.js';
import { benchOutboxCommits } from './outbox.js';

function draft(i: number): SignalDraft {
  return {
    ts: new Date(1_750_000_000_000 + i * 1000).toISOString(),
    device: `plc-${i % 16}`,
    tag: 'pump_speed',
    rule: 'range.pump_speed',
    category: 'anomaly',
    severity: (['info', 'low', 'medium', 'high', 'critical'] as const)[i % 5],
    state: 'raised',
    score: i % 100,
    message: `Pump speed out of range (${i}).`,
    observed: 1500 + (i % 50),
    expected: { min: 0, max: 1450 },
    evidence: { window_s: 60, samples: 12 },
  };
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const row = (label: string, value: string) => process.stdout.write(`  ${label.padEnd(44)} ${value}\n`);

function perOpUs(count: number, fn: (i: number) => void): number {
  const t = performance.now();
  for (let i = 0; i < count; i++) fn(i);
  return ((performance.now() - t) * 1000) / count;
}

const signer = ephemeralSigner();
const pub = crypto.createPublicKey(signer.info.public_key);
const hash = crypto.createHash('sha256').update('x').digest('hex');
const sig = signer.sign(hash);
process.stdout.write(`== Signed signals (node ${process.version}, key ${keyIdOf(pub)})\n`);
row('Ed25519 sign of a hash', `${perOpUs(5000, () => signer.sign(hash)).toFixed(1)} us`);
row('Ed25519 verify of a signature', `${perOpUs(5000, () => crypto.verify(null, Buffer.from(hash), pub, Buffer.from(sig, 'base64'))).toFixed(1)} us`);
for (const batchSize of [1, 100]) {
  const f = benchOutboxCommits({ batchSize, events: batchSize === 1 ? 2000 : 20_000, synchronous: 'FULL' });
  row(`outbox commits, batch ${batchSize} (FULL, signed)`, `${n(f.events_per_s)} events/s`);
}

const box = SqliteOutbox.open({ file: ':memory:', agent: 'bench', site: 'bench', limits: { max_events: 10_000_000, max_bytes: 4 * 2 ** 30, max_age_hours: 720 }, signer });
const signals: RiskSignal[] = [];
for (let i = 0; i < 200; i++) signals.push(...box.append(Array.from({ length: 100 }, (_, k) => draft(i * 100 + k))));
box.close();
const captured = signals.map((signal, i) => ({ line: i + 1, signal }));
const t = performance.now();
const report = verifySignals(captured, { keys: [{ key_id: signer.keyId, key: pub, source: 'bench' }], announced: new Map(), firstSeq: 1 });
const s = (performance.now() - t) / 1000;
row(`verify ${n(signals.length)} signals (hash, link, signature)`, `${n(signals.length / s)} signals/s${report.ok ? '' : ' (PROBLEMS: bench bug)'}`);
