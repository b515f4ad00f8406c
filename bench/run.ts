// `npm run bench`: prints every benchmark figure of issues 2, 3, 4 and 9 (poll path, ceiling, request
// planning, outbox and drain, rules, OPC UA), one section each; `--json` prints one JSON object instead.
// `npm run bench -- --only ceiling,opcua` runs some sections (poll ceiling plan outbox rules opcua learn central);
// `--no-opcua` leaves OPC UA out; `--ceiling-no-rules` runs the ceiling without the bench rules.
// It never asserts a time: the figures are for reading, next to the references the issues give.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../agent/config/load.js';
import type { ModbusDeviceConfig } from '../protocols/modbus/config.js';
import { planRequests } from '../protocols/modbus/planner.js';
import { benchSimulatorConfig } from '../simulators/modbus/index.js';
import { ceilingSearch, runStep, targetRate, type LoadStep, type StepResult } from './load.js';
import { mean, n, pct, perCpuS, row, stepLine } from './format.js';
import { runModbusPollBench } from './modbus-poll.js';
import { benchOutbox } from './outbox.js';
import { killAll, startBroker, startSimulator, type BrokerChild, type SimulatorChild } from './procs.js';
import { runRulesBench } from './rules.js';
import type { OpcuaBenchResult } from './opcua.js';
import { formatProblems } from '../protocols/problems.js';
import { runLearnBench } from './learn.js';
import { runCentralBench, type CentralBenchResult } from './central/bench.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const JSON_OUT = process.argv.includes('--json');
const SECTIONS = ['poll', 'ceiling', 'plan', 'outbox', 'rules', 'opcua', 'learn', 'central'] as const;
type Section = (typeof SECTIONS)[number];

/** Sections to run: all, or those of `--only a,b` (or `--only=a,b`), less opcua with --no-opcua. */
function selectedSections(argv: readonly string[]): Set<Section> {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  const list = i < 0 ? [...SECTIONS] : (argv[i].startsWith('--only=') ? argv[i].slice(7) : (argv[i + 1] ?? '')).split(',').filter(Boolean);
  const unknown = list.filter((x) => !(SECTIONS as readonly string[]).includes(x));
  if (unknown.length > 0 || list.length === 0) {
    process.stderr.write(`bench: --only: unknown section ${unknown.join(', ') || '(none given)'}; sections are ${SECTIONS.join(', ')}\n`);
    process.exit(2);
  }
  const out = new Set(list as Section[]);
  if (argv.includes('--no-opcua')) out.delete('opcua');
  return out;
}
const RUN = selectedSections(process.argv.slice(2));
const CEILING_RULES = !process.argv.includes('--ceiling-no-rules');
/** Human output goes to stdout; with --json, progress goes to stderr and stdout holds one object. */
const say = (line = ''): void => void (JSON_OUT ? undefined : process.stdout.write(line + '\n'));
const progress = (line: string): void => void process.stderr.write(`  .. ${line}\n`);

const REF = { nodeRedCpu: 0.17, nodeRedRssMb: 200, aimCpu: 0.09, aimRssMb: 120, nodeRedCeiling: 730_000, aimCeiling: 1_500_000, aimRulesPct: 30 };
const BASE: LoadStep = { devices: 100, registers: 100, intervalMs: 100 };
const CEILING_STEPS: LoadStep[] = [
  ...[100, 50, 25, 20, 15, 10].map((intervalMs) => ({ devices: 100, registers: 125, intervalMs, rules: CEILING_RULES })),
  ...[125, 150, 200].map((devices) => ({ devices, registers: 125, intervalMs: 10, rules: CEILING_RULES })),
];
const SIM_PLCS = 200;

function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gb: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg_start: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

function heading(title: string): void {
  say();
  say(`== ${title}`);
}

/** Section 1 and the rules comparison: alternate runs without and with rules at 100k registers/s. */
async function pollPath(sim: SimulatorChild, broker: BrokerChild, rounds: number, measureS: number) {
  const plain: StepResult[] = [];
  const ruled: StepResult[] = [];
  for (let i = 0; i < rounds; i++) {
    progress(`poll path, round ${i + 1}/${rounds}: agent without rules (${measureS} s)`);
    plain.push(await runStep(sim, broker.url, BASE, 3, measureS));
    progress(`poll path, round ${i + 1}/${rounds}: agent with about five rules per tag (${measureS} s)`);
    ruled.push(await runStep(sim, broker.url, { ...BASE, rules: true }, 3, measureS));
  }
  return { plain, ruled };
}

function printPollPath(plain: StepResult[]): void {
  heading(`1. Poll path: ${BASE.devices} devices x ${BASE.registers} registers every ${BASE.intervalMs} ms (${n(targetRate(BASE))} registers/s)`);
  say('  The real agent process (scheduler, poller, judge without rules, outbox, forwarder to the broker)');
  say(`  against ${BASE.devices} bench PLCs in a simulator process; ${plain.length} runs of ${plain[0].seconds} s after 3 s warm-up.`);
  for (const r of plain) say(stepLine(r));
  const cpu = mean(plain.map((r) => r.cpu_s_per_s));
  const rss = Math.max(...plain.map((r) => r.rss_mb_peak));
  const slots = plain.reduce((a, r) => a + r.slots, 0);
  const cycles = plain.reduce((a, r) => a + r.cycles, 0);
  const skipped = plain.reduce((a, r) => a + r.skipped_cycles, 0);
  const failed = plain.reduce((a, r) => a + r.failed_cycles, 0);
  say(row('samples/s (all / good)', `${n(mean(plain.map((r) => r.samples_per_s)))} / ${n(mean(plain.map((r) => r.good_samples_per_s)))}`, `target ${n(targetRate(BASE))}`));
  say(row('agent CPU', `${n(cpu, 4)} CPU-s/s`, `Node-RED ${REF.nodeRedCpu}, aim < ${REF.aimCpu}: ${cpu < REF.aimCpu ? 'within aim' : 'ABOVE aim'}`));
  say(row('samples per agent CPU-second', n(perCpuS(mean(plain.map((r) => r.samples_per_s)), cpu)), 'the same work on another machine compares by this'));
  say(row('agent peak RSS', `${rss} MB`, `Node-RED ${REF.nodeRedRssMb} MB, aim < ${REF.aimRssMb} MB: ${rss < REF.aimRssMb ? 'within aim' : 'ABOVE aim'}`));
  say(row('agent heap used at the end', `${plain.map((r) => r.heap_mb).join(', ')} MB`, 'V8 lets garbage pile up between full collections'));
  say(row('cycles done / poll slots', `${n(cycles)} / ${n(slots)}`, `${pct(cycles / slots, 2)}`));
  say(row('slots skipped (late) / cycles failed', `${n(skipped)} / ${n(failed)}`, `${pct(skipped / slots, 3)} of slots skipped`));
  say(row('simulator CPU (other process)', `${n(mean(plain.map((r) => r.sim_cpu_s_per_s)), 3)} CPU-s/s`));
}

async function ceilingSection(sim: SimulatorChild, broker: BrokerChild) {
  heading('2. Ceiling: highest load the agent keeps on schedule (skipped < 1%, good samples >= 98% of target)');
  say(`  The real agent process per step (${CEILING_RULES ? 'with about five rules per tag' : 'no rules'}), 2 s warm-up, 5 s measured; a step not sustained is`);
  say('  retried once; the search stops after two such steps in a row.');
  const result = await ceilingSearch(sim, broker.url, CEILING_STEPS, {
    warmupS: 2,
    measureS: 5,
    budgetS: 150,
    onStep: (r) => {
      progress(`ceiling step ${n(r.target_registers_per_s)} registers/s: ${r.sustained ? 'sustained' : 'not sustained'}`);
      say(stepLine(r));
    },
  });
  const c = result.ceiling_registers_per_s;
  say(row('highest sustained load', `${n(c)} reg/s`, `Node-RED ~${n(REF.nodeRedCeiling)} on one core; aim > ${n(REF.aimCeiling)}: ${c > REF.aimCeiling ? 'within aim' : 'BELOW aim'}`));
  say(row('most good samples/s of any step', `${n(result.max_good_samples_per_s)} reg/s`, 'on schedule or not'));
  const last = result.steps.at(-1);
  if (last?.sustained) say('  (the last step was sustained: the true ceiling is higher than the steps tried)');
  say(row('search time', `${result.seconds} s`));
  // The poller alone, back to back in this process: what poll + decode costs without schedule, judge or outbox.
  progress('poller alone, back to back (3 s)');
  const devices = sim.plcs.slice(0, 100).map((p) => benchDevice(p.id, p.port, 125, 1000));
  const alone = await runModbusPollBench({ devices, ceilingMs: 3000, warmupPolls: 10 });
  const a = alone.ceiling!;
  say(row('poller alone, back to back', `${n(a.registersPerS)} reg/s`, `${n(a.requestsPerS)} requests/s, ${n(a.cpuSPerS, 2)} CPU-s/s, ${n(perCpuS(a.registersPerS, a.cpuSPerS))} samples/CPU-s, ${n(a.cpuUsPerRequest, 1)} us CPU/request (100 PLCs x 125 reg, no scheduler/judge)`));
  return { ...result, poller_alone: a };
}

function benchDevice(id: string, port: number, registers: number, intervalMs: number): ModbusDeviceConfig {
  const text = JSON.stringify({
    agent: { id: 'plan', site: 'plan' },
    broker: { url: 'mqtt://127.0.0.1:1883' },
    devices: [
      {
        id,
        protocol: 'modbus',
        transport: { type: 'tcp', host: '127.0.0.1', port },
        interval_ms: intervalMs,
        timeout_ms: Math.min(intervalMs, 1000),
        identity_interval_ms: 0,
        diagnostics_interval_ms: 0,
        tags: Array.from({ length: registers }, (_, i) => ({ name: `reg_${i}`, area: 'holding_register', address: i })),
      },
    ],
  });
  const parsed = parseConfigText(text, 'bench device');
  if (!parsed.config) throw new Error(`bench device config: ${formatProblems(parsed.problems).split('\n').join('; ')}`);
  const d = parsed.config.devices[0];
  if (d.protocol !== 'modbus') throw new Error('bench device config: not a Modbus device');
  return d;
}

function planSection() {
  heading('3. Modbus requests per cycle: planned vs one request per tag');
  const out: { device: string; tags: number; planned: number; per_tag: number }[] = [];
  const add = (device: string, d: ModbusDeviceConfig) => {
    const plan = planRequests(d.tags, d);
    const tags = plan.reduce((a, r) => a + r.items.length, 0);
    out.push({ device, tags, planned: plan.length, per_tag: tags });
    say(row(device, `${plan.length} vs ${tags}`, `${n(tags / plan.length, 1)}x fewer requests (${plan.map((r) => `FC${r.functionCode} ${r.address}+${r.quantity}`).join(', ')})`));
  };
  add(`bench PLC, 100 registers`, benchDevice('bench-plc-1', 5020, 100, 100));
  add(`bench PLC, 125 registers`, benchDevice('bench-plc-1', 5020, 125, 100));
  const sample = path.join(ROOT, 'protocols/modbus/sample.yaml');
  const parsed = parseConfigText(fs.readFileSync(sample, 'utf8'), sample);
  if (parsed.config) for (const d of parsed.config.devices) if (d.protocol === 'modbus') add(`sample tank PLC (${d.id})`, d);
  else say(`  protocols/modbus/sample.yaml does not validate (${parsed.problems[0]?.path}: ${parsed.problems[0]?.message}); tank plan skipped`);
  say(`  ${BASE.devices} bench PLCs x 100 registers: ${n(BASE.devices * out[0].planned)} requests per cycle vs ${n(BASE.devices * out[0].per_tag)} with one per tag`);
  return out;
}

async function outboxSection(broker: BrokerChild) {
  heading('4. Outbox (SQLite WAL, synchronous FULL, on disk) and backlog drain (QoS 1)');
  progress('outbox commits and drain');
  const r = await benchOutbox(broker.url);
  for (const c of r.commits) say(row(`commits, batch ${c.batch_size}`, `${n(c.commits_per_s)} commits/s`, `${n(c.events_per_s)} events/s (${n(c.events)} events)`));
  const d = r.drain;
  say(row('backlog drain to broker', `${n(d.messages_per_s)} msg/s`, `${n(d.events)} events, QoS 1, max ${d.max_inflight} in flight, ${n(d.seconds, 2)} s, ${broker.kind}`));
  return r;
}

function rulesSection(plain: StepResult[], ruled: StepResult[]) {
  heading('5. Rules (issue 3)');
  progress('rule engine micro-benchmark');
  const m = runRulesBench();
  say(`  Rule engine + alert stage alone, ${m.devices} devices x ${m.tags / m.devices} tags, ${m.rules} rules, ${m.rules_per_tag} evaluations per sample:`);
  say(row('rule evaluations/s', n(m.evaluations_per_s), `${n(m.ns_per_evaluation, 1)} ns each`));
  say(row('samples judged/s', n(m.samples_per_s), `${n(m.ns_per_sample, 1)} ns per sample, ${m.findings} findings, ${m.signals} signals`));
  say(row('one core at 100,000 samples/s', pct(m.core_share_at_100k_samples_per_s, 2), 'CPU-s/s the rules would take'));
  const cpuPlain = mean(plain.map((r) => r.cpu_s_per_s));
  const cpuRuled = mean(ruled.map((r) => r.cpu_s_per_s));
  const increase = cpuRuled / cpuPlain - 1;
  const evalRate = mean(ruled.map((r) => r.rule_evaluations_per_s));
  say(`  The agent process at ${n(targetRate(BASE))} registers/s, runs alternating without and with rules`);
  say(`  (per tag: range, high-high range, rate, stuck, change count; per device: availability, exceptions):`);
  for (const r of ruled) say(stepLine(r));
  say(row('agent CPU without rules', `${n(cpuPlain, 4)} CPU-s/s`, plain.map((r) => n(r.cpu_s_per_s, 4)).join(', ')));
  say(row('agent CPU with rules', `${n(cpuRuled, 4)} CPU-s/s`, ruled.map((r) => n(r.cpu_s_per_s, 4)).join(', ')));
  say(row('agent peak RSS with rules', `${Math.max(...ruled.map((r) => r.rss_mb_peak))} MB`, `${ruled.map((r) => r.rss_mb_peak).join(', ')} MB; aim < ${REF.aimRssMb} MB`));
  say(row('samples per agent CPU-second', `${n(perCpuS(mean(plain.map((r) => r.samples_per_s)), cpuPlain))} / ${n(perCpuS(mean(ruled.map((r) => r.samples_per_s)), cpuRuled))}`, 'without / with rules'));
  say(row('rule evaluations/s in the agent', n(evalRate), `${n(evalRate / mean(ruled.map((r) => r.samples_per_s)), 2)} per sample`));
  say(row('signals with rules / without', `${ruled.reduce((a, r) => a + r.signals, 0)} / ${plain.reduce((a, r) => a + r.signals, 0)}`, 'expected 0; skipped cycles raise the built-in schedule signal'));
  say(row('rules add (measured A/B)', pct(increase), `share of poll-and-judge cost in rules ${pct(1 - cpuPlain / cpuRuled)}; aim < ${REF.aimRulesPct}%: ${increase * 100 < REF.aimRulesPct ? 'within aim' : 'ABOVE aim'}`));
  const modelled = m.core_share_at_100k_samples_per_s / cpuPlain;
  say(row('rules add (micro-bench estimate)', pct(modelled), 'rule engine cost at 100k samples/s (its own 5-per-tag set) over the agent CPU without rules'));
  return { micro: m, cpu_without_rules: cpuPlain, cpu_with_rules: cpuRuled, increase, share: 1 - cpuPlain / cpuRuled, modelled_increase: modelled, runs: ruled };
}

/** One OPC UA phase in a process of its own (bench/opcua.js), so each mode's RSS is its own. */
async function opcuaPhase(mode: 'read' | 'subscription'): Promise<OpcuaBenchResult> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/bench/opcua.js'), '10', '1000', '10', mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill); // an interrupted bench leaves no agent side behind
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  process.removeListener('exit', kill);
  if (code !== 0) throw new Error(`OPC UA ${mode} phase exited with ${code}: ${err.trim()}`);
  return JSON.parse(out) as OpcuaBenchResult;
}

/** Issue 4: OPC UA samples/s in read and subscription mode, 10 servers x 1,000 variables, each mode in its own process. */
async function opcuaSection(): Promise<OpcuaBenchResult> {
  say();
  say('== 6. OPC UA: 10 servers x 1,000 variables, Basic256Sha256 SignAndEncrypt, simulator in a child process');
  say('  Each mode runs in an agent-side process of its own, so its RSS is not the other mode\'s.');
  progress('OPC UA read mode: starting 10 servers and connecting (about a minute)');
  const read = await opcuaPhase('read');
  progress('OPC UA subscription mode: starting 10 servers and connecting (about a minute)');
  const sub = await opcuaPhase('subscription');
  const r: OpcuaBenchResult = { ...read, subscription: sub.subscription };
  say(row('startup', `${n(r.startupS.simulator, 1)} s + ${n(r.startupS.connect, 1)} s`, 'simulator start + secure sessions (read mode run)'));
  for (const ph of [r.read, r.subscription]) {
    if (!ph) continue;
    say(row(`${ph.mode} mode samples/s`, n(ph.samplesPerS), `${ph.mode === 'subscription' ? `${n(ph.notificationsPerS)} new values/s from the server; ` : ''}agent ${n(ph.agentCpuSPerS, 3)} CPU-s/s, RSS ${n(ph.agentRssMbMax)} MB, heap ${n(ph.agentHeapMbMax)} MB; simulator ${ph.simulatorCpuSPerS === null ? 'n/a' : n(ph.simulatorCpuSPerS, 2)} CPU-s/s`));
    say(row(`${ph.mode} mode samples/CPU-s`, n(perCpuS(ph.samplesPerS, ph.agentCpuSPerS)), 'samples per second of the agent side\'s CPU time'));
  }
  say('  reference: NeuronEX 100,000 OPC UA points/s at ~2.4 cores and 594 MB; aim 100,000 samples/s in subscription mode under one core and 250 MB');
  return r;
}

function learnSection() {
  heading('7. Learning that knows when it is done: a day of 1 s polls, one device x 25 tags');
  progress('learning: a day of polls into the learner');
  const r = runLearnBench();
  say(row('learner ingest', `${n(r.ingest_ns_per_sample)} ns/sample`, `${n(r.cycles)} cycles x ${r.tags} tags, envelope summaries included`));
  say(row('envelope summary alone', `${n(r.envelope_ns_per_sample, 1)} ns/sample`, 'per tag: 256 buckets, merged as the window grows'));
  say(row('judge every tag', `${n(r.convergence_ms, 2)} ms`, `${r.converged} of ${r.tags} converged; progress and --until-stable judge about once a second`));
  say(row('rules so far (progress line)', `${n(r.rules_so_far_ms, 1)} ms`, `${r.rules_so_far} rules on 2000 spaced cycles; on the whole table ${n(r.rules_so_far_full_ms)} ms (${r.rules_so_far_full} rules): the polls would wait that long`));
  say(row('final result (for scale)', `${n(r.result_ms)} ms`, `${r.rules} rules with invariants and models`));
}

async function centralSection(): Promise<CentralBenchResult> {
  heading('8. Central: signals verified and stored per second, two processes on a shared subscription, 1,000 agents reconnecting');
  say('  The real `otsentry central` in child processes (hash, Ed25519 signature against the pinned key, dedupe, chain, store),');
  say('  fed by SimAgents through mosquitto (max_inflight_messages 5000). One process: 50 agents x 1,000 signals queued while it');
  say('  is stopped, then drained. Two processes: 50 agents x 800 signals published live. PostgreSQL is a throwaway cluster with');
  say('  fsync off. The machine is shared with other engineers\' builds and tests: the figures move with its load.');
  const r = await runCentralBench(progress);
  for (const x of [...r.single, ...r.pair]) {
    say(row(x.label, `${n(x.per_s)} signals/s`, `${n(x.signals)} in ${n(x.seconds, 1)} s; central CPU ${n(x.cpu_s_per_s, 2)} CPU-s/s; ${n(perCpuS(x.per_s, x.cpu_s_per_s))} per CPU-second; aim 10,000/s per process: ${x.per_s / (x.label.startsWith('two') ? 2 : 1) >= 10_000 ? 'met' : 'NOT met'}`));
  }
  const c = r.reconnect;
  if (c) {
    say(row(`${n(c.agents)} agents reconnecting at once`, `${n(c.all_stored_s, 1)} s`, `every status in (keys pinned) after ${n(c.all_online_s, 1)} s; all ${n(c.events)} events stored after ${n(c.all_stored_s, 1)} s; central CPU ${n(c.central_cpu_s, 1)} s`));
  }
  return r;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const info = machine();
  say('otsentry benchmark (figures only; nothing here asserts a time)');
  say(`  node ${info.node}, ${info.cpu}, ${info.cores} cores, ${info.memory_gb} GB, ${info.os}`);
  say(`  load average at start: ${info.loadavg_start.join(' / ')} (1/5/15 min); other work on this machine makes the figures noisy`);
  progress(`starting broker and simulator (${SIM_PLCS} bench PLCs x 125 registers)`);
  const broker = await startBroker();
  // The simulator only for the sections that poll (the central section has its own broker).
  const needsSim = RUN.has('poll') || RUN.has('rules') || RUN.has('ceiling');
  const sim = needsSim ? await startSimulator(benchSimulatorConfig({ plcs: SIM_PLCS, registers: 125 })) : undefined;
  say(`  broker: ${broker.kind}${sim ? `; simulator: ${sim.plcs.length} bench PLCs x 125 holding registers in a child process` : ''}`);
  try {
    const path1 = sim && (RUN.has('poll') || RUN.has('rules')) ? await pollPath(sim, broker, 3, 8) : undefined;
    if (path1 && RUN.has('poll')) printPollPath(path1.plain);
    const ceiling = sim && RUN.has('ceiling') ? await ceilingSection(sim, broker) : undefined;
    const plan = RUN.has('plan') ? planSection() : undefined;
    const outbox = RUN.has('outbox') ? await outboxSection(broker) : undefined;
    const rules = path1 && RUN.has('rules') ? rulesSection(path1.plain, path1.ruled) : undefined;
    const opcua = RUN.has('opcua') ? await opcuaSection() : undefined;
    const learn = RUN.has('learn') ? learnSection() : undefined;
    const central = RUN.has('central') ? await centralSection() : undefined;
    const total = Math.round((performance.now() - t0) / 1000);
    say();
    say(`done in ${total} s; load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
    if (JSON_OUT) {
      const plain = path1?.plain;
      const poll = plain && { runs: plain, cpu_s_per_s: mean(plain.map((r) => r.cpu_s_per_s)), rss_mb_peak: Math.max(...plain.map((r) => r.rss_mb_peak)) };
      const loadavgEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
      process.stdout.write(JSON.stringify({ machine: { ...info, loadavg_end: loadavgEnd }, broker: broker.kind, seconds: total, poll_path: poll, ceiling, plan, outbox, rules, opcua, learn, central }) + '\n');
    }
  } finally {
    await sim?.stop();
    await broker.stop();
  }
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    killAll();
    process.exit(1);
  },
);
