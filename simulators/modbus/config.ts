// The simulator's config file (YAML or JSON): PLCs and a scenario timeline, validated with zod.
// Every problem is reported at once, one `path: message` line each.
import fs from 'node:fs';
import { z } from 'zod';
import { parseDocument } from 'yaml';
import { DURATION_HINT, parseDuration } from './duration.js';
import { FRAMINGS } from './framing.js';
import { MAX_OBJECT_LENGTH } from './identity.js';
import { modelParamsSchema } from './models/index.js';
import { findScenario, SCENARIO_NAMES } from './scenarios/index.js';
import { formatPath, formatProblems, zodProblems } from '../../protocols/problems.js';
import { OperationalError } from '../../protocols/errors.js';

const identityString = z
  .string()
  .max(MAX_OBJECT_LENGTH, `at most ${MAX_OBJECT_LENGTH} characters (one FC43 object per response)`)
  .regex(/^[\x20-\x7e]*$/, 'use printable ASCII');

export const identitySchema = z
  .object({
    vendor_name: identityString.optional().describe('FC43 object 0 VendorName'),
    product_code: identityString.optional().describe('FC43 object 1 ProductCode'),
    revision: identityString.optional().describe('FC43 object 2 MajorMinorRevision'),
    vendor_url: identityString.optional().describe('FC43 object 3 VendorUrl (empty = not present)'),
    product_name: identityString.optional().describe('FC43 object 4 ProductName'),
    model_name: identityString.optional().describe('FC43 object 5 ModelName'),
    user_application_name: identityString.optional().describe('FC43 object 6 UserApplicationName'),
  })
  .strict();

/**
 * Seconds as a number, or a duration string (500ms, 10s, 2m); the result is in seconds, so a parsed
 * config parses again to itself.
 */
export const durationSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration; ${DURATION_HINT}` });
    return z.NEVER;
  }
  return ms / 1000;
});

export const plcSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . -').describe('PLC id, unique in the file'),
    host: z.string().min(1).default('127.0.0.1').describe('Address to listen on'),
    port: z.number().int().min(0).max(65535).default(0).describe('TCP port; 0 = a free port'),
    framing: z.enum(FRAMINGS).default('tcp').describe('tcp = Modbus TCP (MBAP), rtu_over_tcp = RTU frames with CRC over TCP'),
    unit_id: z.number().int().min(1).max(247).default(1).describe('The unit id this PLC answers'),
    model: modelParamsSchema.prefault({ type: 'tank' }).describe('Process model: tank or bench, with its params'),
    identity: identitySchema.default({}).describe('FC43 strings; unset ones come from the model'),
    tick_ms: z.number().int().min(10).max(60000).default(100).describe('Process model step'),
    response_delay_ms: z.number().int().min(0).max(60000).default(0).describe('Base response delay'),
    seed: z.number().int().min(0).max(0xffffffff).default(1).describe('Random seed of the process noise'),
    max_connections: z.number().int().min(1).max(1000).default(16).describe('Connections beyond this are closed at once'),
    rtu_silence_ms: z.number().int().min(1).max(10000).default(20).describe('RTU over TCP: a partial frame is dropped after this much silence'),
  })
  .strict();

export const scenarioEntrySchema = z
  .object({
    name: z.string().min(1).describe(`Scenario: ${SCENARIO_NAMES.join(', ')}`),
    plc: z.string().min(1).describe('Id of the PLC it acts on'),
    at: durationSchema.default(0).describe('Start, seconds after the simulator starts (or 10s, 2m)'),
    duration: durationSchema.optional().describe('How long it lasts; absent = until the simulator stops'),
    params: z.record(z.string(), z.unknown()).default({}).describe('Scenario params'),
  })
  .strict();

export const simulatorConfigSchema = z
  .object({
    plcs: z.array(plcSchema).min(1, 'list at least one PLC'),
    scenarios: z.array(scenarioEntrySchema).default([]),
  })
  .strict();

type Problem = { path: PropertyKey[]; message: string };
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Checks across fields (duplicate ids and ports, scenario targets, scenario params). They read the
 * raw input defensively, so they run even when the schema found other problems: every problem at once.
 */
export function crossCheck(raw: unknown): Problem[] {
  const out: Problem[] = [];
  const ids = new Map<string, number>();
  const models = new Map<string, string>();
  const ports = new Map<string, number>();
  list(obj(raw).plcs).forEach((p, i) => {
    const plc = obj(p);
    if (typeof plc.id !== 'string') return;
    if (ids.has(plc.id)) out.push({ path: ['plcs', i, 'id'], message: `duplicate id ${plc.id} (also plcs[${ids.get(plc.id)}])` });
    else ids.set(plc.id, i);
    models.set(plc.id, typeof plc.model === 'string' ? plc.model : typeof obj(plc.model).type === 'string' ? (obj(plc.model).type as string) : 'tank');
    if (typeof plc.port !== 'number' || plc.port === 0) return;
    const key = `${typeof plc.host === 'string' ? plc.host : '127.0.0.1'}:${plc.port}`;
    if (ports.has(key)) out.push({ path: ['plcs', i, 'port'], message: `${key} is already used by plcs[${ports.get(key)}]; pick another port or 0 for a free one` });
    else ports.set(key, i);
  });
  list(obj(raw).scenarios).forEach((e, i) => {
    const s = obj(e);
    if (typeof s.name !== 'string') return;
    const mod = findScenario(s.name);
    if (!mod) {
      out.push({ path: ['scenarios', i, 'name'], message: `unknown scenario ${s.name}; known: ${SCENARIO_NAMES.join(', ')}` });
      return;
    }
    if (typeof s.plc === 'string') {
      const model = models.get(s.plc);
      if (model === undefined) out.push({ path: ['scenarios', i, 'plc'], message: `no PLC with id ${s.plc}; ids: ${[...ids.keys()].join(', ')}` });
      else if (!(mod.models as readonly string[]).includes(model)) out.push({ path: ['scenarios', i, 'name'], message: `${s.name} needs a ${mod.models.join(' or ')} PLC; ${s.plc} is a ${model}` });
    }
    const r = mod.params.safeParse(s.params ?? {});
    if (!r.success) for (const line of formatIssues(r.error.issues, ['scenarios', i, 'params'])) out.push({ path: [], message: line });
  });
  return out;
}

export type SimulatorConfigInput = z.input<typeof simulatorConfigSchema>;
export type SimulatorConfig = z.output<typeof simulatorConfigSchema>;
export type PlcConfig = SimulatorConfig['plcs'][number];
export type ScenarioEntry = SimulatorConfig['scenarios'][number];

export class SimulatorConfigError extends OperationalError {
  constructor(
    readonly issues: string[],
    source = 'simulator config',
  ) {
    super('invalid_config', `${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${issues.join('\n')}`, 'config');
  }
}

/** zod issues as `path: message` lines (formatted by protocols/problems.ts), prefix: where the value sits. */
export function formatIssues(issues: ReadonlyArray<z.core.$ZodIssue>, prefix: PropertyKey[] = []): string[] {
  return zodProblems({ issues }, { at: formatPath(prefix), unknownKey: (k) => `unknown key '${k}' (check the spelling; see simulators/README.md)` }).map((p) => formatProblems([p]));
}

/** Document order: plcs before scenarios, then by item index (stable within one item). */
function sortByPlace(lines: string[]): void {
  const key = (l: string): [number, number] => {
    const m = /^(plcs|scenarios)\[(\d+)\]/.exec(l);
    return m ? [m[1] === 'plcs' ? 1 : 2, Number(m[2])] : [0, 0];
  };
  lines.sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka[0] - kb[0] || ka[1] - kb[1];
  });
}

export function parseSimulatorConfig(raw: unknown, source?: string): SimulatorConfig {
  const r = simulatorConfigSchema.safeParse(raw);
  const lines = r.success ? [] : formatIssues(r.error.issues);
  for (const p of crossCheck(raw)) lines.push(p.path.length ? formatProblems([{ path: formatPath(p.path), message: p.message }]) : p.message);
  sortByPlace(lines);
  if (lines.length > 0 || !r.success) throw new SimulatorConfigError(lines, source);
  return r.data;
}

/** Read and validate a YAML or JSON simulator config file. */
export function loadSimulatorConfig(file: string): SimulatorConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SimulatorConfigError([`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'}); check the path`], file);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const at = e.linePos?.[0];
      return `${at ? `line ${at.line}, column ${at.col}` : '(file)'}: ${e.message.split('\n')[0]} (fix the YAML syntax)`;
    });
    throw new SimulatorConfigError(lines, file);
  }
  return parseSimulatorConfig(doc.toJS(), file);
}
