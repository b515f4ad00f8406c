// `otsentry schema config|signal|central`: the JSON Schema of the agent config, the risk signal
// and the central config, generated from their zod schemas (zod's toJSONSchema; nothing written
// by hand), for editors (yaml-language-server) and consumers that validate signals.
import type { Command } from 'commander';
import { z } from 'zod';
import { configSchema } from '../config/schema.js';
import { centralConfigSchema } from '../central/config/schema.js';
import { riskSignalSchema } from '../../rules/signal-schema.js';

export interface SchemaKit {
  usage(message: string): Error;
}

const SCHEMAS = {
  config: { schema: configSchema, title: 'otsentry agent config (agent.yaml)', io: 'input' },
  central: { schema: centralConfigSchema, title: 'otsentry central config (central.yaml)', io: 'input' },
  signal: { schema: riskSignalSchema, title: 'otsentry risk signal', io: 'output' },
} as const;

export type SchemaName = keyof typeof SCHEMAS;
export const SCHEMA_NAMES = Object.keys(SCHEMAS) as SchemaName[];

/** The JSON Schema (draft 2020-12) of one of the three documents. */
export function jsonSchema(name: SchemaName): Record<string, unknown> {
  const { schema, title, io } = SCHEMAS[name];
  // Config files are what users write (defaults make keys optional: io input); a signal is what agents publish.
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...out, title };
}

export function addSchemaCommand(program: Command, kit: SchemaKit): void {
  program
    .command('schema')
    .description('print the JSON Schema of the agent config, the risk signal or the central config (generated from the zod schemas)')
    .argument('<which>', SCHEMA_NAMES.join(' | '))
    .action((which: string) => {
      if (!(SCHEMA_NAMES as string[]).includes(which)) throw kit.usage(`schema: '${which}' is unknown; choose one of ${SCHEMA_NAMES.join(', ')}.`);
      process.stdout.write(JSON.stringify(jsonSchema(which as SchemaName), null, 2) + '\n');
    });
}
