// Writes a learned baseline as a reviewable YAML rules file: a header saying where and when it was
// learned, then one rule per block with the evidence behind it as comments. The file holds a
// `rules:` list, so it can be passed to `otsentry run/replay --rules` or pasted into a config.
import { Document, isMap, isScalar, isSeq } from 'yaml';
import { convergenceComment } from './convergence.js';
import type { LearnResult } from './learner.js';

const TYPE_TITLES: Record<string, string> = {
  integrity: 'Approved values (integrity): tags that never changed',
  identity: 'Identity',
  allowed_values: 'Allowed values of discrete tags',
  rate: 'Rates of change and change counts',
  range: 'Ranges of measurements',
  grid: 'Resolution of measurements (values on a grid)',
  stuck: 'Values that must keep moving',
  expression: 'Invariants between tags that held in every cycle',
  residual: 'Learned relations between tags (residual models)',
  availability: 'Reachability and round-trip time',
  exceptions: 'Exception and malformed answers',
  diagnostics: 'Diagnostic counters',
};
const ORDER = Object.keys(TYPE_TITLES);

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export interface WriteInfo {
  /** what was observed: a file name or "live polling of agent.yaml for 1h" */
  source: string;
  version?: string;
}

export function baselineYaml(r: LearnResult, info: WriteInfo): string {
  const o = r.options;
  const lines: string[] = [
    `# Baseline learned by otsentry${info.version ? ` ${info.version}` : ''} from ${info.source}.`,
    `# Window ${iso(r.first_ts)} .. ${iso(r.last_ts)}: ${r.samples} samples, ${r.facts} facts${r.ignored ? `, ${r.ignored} samples of unknown tags ignored` : ''}.`,
    ...r.devices.map((d) => `#   ${d.id}: ${d.cycles} cycles; tags ${summarizeKinds(d.kinds)}`),
    `# Options: margin ${o.margin}, noise ${o.noise}, rate_margin ${o.rate_margin}, stuck_factor ${o.stuck_factor}, max_discrete ${o.max_discrete}, invariants ${o.invariants}, models ${o.models} (max_terms ${o.max_terms}, cusum_k ${o.cusum_k}).`,
    ...convergenceComment(r.convergence),
    '# Review every rule before approving: remove what your operation allows (a learning window',
    '# rarely shows every normal state), then run it with `otsentry run --config agent.yaml --rules THIS_FILE`.',
    '',
    'rules:',
  ];
  const sorted = [...r.rules].sort((a, b) => rank(a.rule.type) - rank(b.rule.type));
  let section = '';
  for (const lr of sorted) {
    const type = String(lr.rule.type);
    if (type !== section) {
      section = type;
      lines.push('', `  # --- ${TYPE_TITLES[type] ?? type} ---`);
    }
    for (const e of lr.evidence) lines.push(`  # ${e.replace(/\n/g, ' ')}`);
    const body = ruleYaml(lr.rule);
    for (const l of body.split('\n')) lines.push(`  ${l}`);
  }
  if (r.rules.length === 0) lines[lines.length - 1] = 'rules: []  # nothing could be learned: too few samples?';
  return `${lines.join('\n')}\n`;
}

/** One rule as a YAML list item: lists of values and model terms on one line each. */
function ruleYaml(rule: Record<string, unknown>): string {
  const doc = new Document([rule]);
  const seq = doc.contents;
  const item = isSeq(seq) ? seq.items[0] : undefined;
  if (isMap(item)) {
    for (const pair of item.items) {
      const v = pair.value;
      if (isSeq(v) && v.items.every((x) => isScalar(x))) v.flow = true;
      if (isSeq(v)) for (const x of v.items) if (isMap(x)) x.flow = true;
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false }).trimEnd();
}

function rank(type: unknown): number {
  const i = ORDER.indexOf(String(type));
  return i < 0 ? ORDER.length : i;
}

function summarizeKinds(kinds: Record<string, string>): string {
  const by = new Map<string, number>();
  for (const k of Object.values(kinds)) by.set(k, (by.get(k) ?? 0) + 1);
  return [...by].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}
