// Config schema of one Modbus device (TCP, RTU over a serial port, RTU over TCP) and its tags.
import { z } from 'zod';

export const MODBUS_AREAS = ['coil', 'discrete_input', 'holding_register', 'input_register'] as const;
export const MODBUS_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32'] as const;
/** FC08 counters, in sub-function order 0x0B..0x12 (frame.ts maps them to sub-functions). */
export const DIAGNOSTIC_COUNTER_NAMES = [
  'bus_message_count',
  'bus_comm_error_count',
  'bus_exception_error_count',
  'server_message_count',
  'server_no_response_count',
  'server_nak_count',
  'server_busy_count',
  'bus_char_overrun_count',
] as const;

export const modbusTagSchema = z
  .object({
    name: z.string().min(1).regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'use letters, digits, _ . - and start with a letter or _').describe('Tag name, unique within the device'),
    area: z.enum(MODBUS_AREAS).describe('Modbus table the tag lives in'),
    address: z.number().int().min(0).max(65535).describe('Zero-based address (register or bit number)'),
    type: z.enum(MODBUS_TYPES).optional().describe('Value type; bool for coils/discrete inputs, default uint16 for registers'),
    word_order: z.enum(['big', 'little']).optional().describe('32-bit values: big = high word first (default)'),
    byte_order: z.enum(['big', 'little']).optional().describe('Bytes inside each register: big (default) or little (swapped)'),
    bit: z.number().int().min(0).max(15).optional().describe('Read one bit of a register as bool (0 = least significant)'),
    scale: z.number().finite().default(1).describe('value = raw * scale + offset'),
    offset: z.number().finite().default(0).describe('value = raw * scale + offset'),
    unit: z.string().optional().describe('Engineering unit, for people'),
    description: z.string().optional().describe('What the tag means, for people'),
  })
  .strict();

export const modbusTransportSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('tcp'),
      host: z.string().min(1).describe('Device host name or IP address'),
      port: z.number().int().min(1).max(65535).default(502).describe('Modbus TCP port'),
      client: z
        .enum(['native', 'modbus-serial'])
        .default('native')
        .describe('Modbus TCP client: native (lean, read function codes only) or modbus-serial (the library, as a fallback)'),
    })
    .strict(),
  z
    .object({
      type: z.literal('rtu_over_tcp'),
      host: z.string().min(1).describe('Serial-to-Ethernet gateway host name or IP address'),
      port: z.number().int().min(1).max(65535).default(502).describe('Gateway TCP port; RTU frames (with CRC) are sent as they are'),
    })
    .strict(),
  z
    .object({
      type: z.literal('rtu'),
      path: z.string().min(1).describe('Serial port, e.g. /dev/ttyUSB0'),
      baud_rate: z.number().int().positive().default(9600).describe('Serial speed, bits per second'),
      data_bits: z.union([z.literal(7), z.literal(8)]).default(8).describe('Data bits per character'),
      stop_bits: z.union([z.literal(1), z.literal(2)]).default(1).describe('Stop bits per character'),
      parity: z.enum(['none', 'even', 'odd']).default('even').describe('Parity (Modbus RTU default is even)'),
    })
    .strict(),
]);

export const modbusDeviceSchema = z
  .object({
    id: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . - (it becomes part of event ids)').describe('Device id, unique in the config'),
    protocol: z.literal('modbus').describe('Selects the Modbus poller'),
    description: z.string().optional().describe('What the device is, for people'),
    enabled: z.boolean().default(true).describe('false = keep the device in the config but do not poll it'),
    transport: modbusTransportSchema.describe('How to reach the device: tcp, rtu_over_tcp or rtu (serial)'),
    unit_id: z.number().int().min(0).max(255).default(1).describe('Modbus unit (slave) id'),
    interval_ms: z.number().int().min(10).default(1000).describe('Poll interval'),
    timeout_ms: z.number().int().min(10).max(60000).default(1000).describe('Per-request timeout'),
    retries: z.number().int().min(0).max(5).default(1).describe('Retries of a failed request within one cycle'),
    pause_between_requests_ms: z.number().int().min(0).max(10000).default(0).describe('Pause between two requests, for slow PLCs'),
    max_registers_per_read: z.number().int().min(1).max(125).default(125).describe('Largest register read (FC03/FC04), in registers'),
    max_bits_per_read: z.number().int().min(1).max(2000).default(2000).describe('Largest coil/discrete input read (FC01/FC02), in bits'),
    max_gap_registers: z.number().int().min(0).max(124).default(0).describe('Read across unused register addresses up to this many to save requests'),
    max_gap_bits: z.number().int().min(0).max(1999).default(0).describe('Read across unused coil/discrete input addresses up to this many to save requests'),
    identity_interval_ms: z.number().int().min(0).default(600000).describe('FC43 device identification cadence; 0 = only at start'),
    diagnostics_interval_ms: z.number().int().min(0).default(10000).describe('FC08 counter cadence; 0 = never'),
    diagnostics_counters: z
      .array(z.enum(DIAGNOSTIC_COUNTER_NAMES))
      .min(1)
      .default([...DIAGNOSTIC_COUNTER_NAMES])
      .describe('FC08 counters to read: one request each'),
    unsupported_recheck_ms: z
      .number()
      .int()
      .min(0)
      .default(3_600_000)
      .describe('After a device ignored or refused FC43/FC08, ask again only after this long'),
    reconnect_min_ms: z.number().int().min(10).default(500).describe('First reconnect delay'),
    reconnect_max_ms: z.number().int().min(10).default(30000).describe('Largest reconnect delay (exponential backoff)'),
    degrade_after_failures: z.number().int().min(1).default(3).describe('Consecutive failed cycles before the device is polled less often'),
    degraded_interval_ms: z.number().int().min(10).default(10000).describe('Poll interval while degraded'),
    tags: z.array(modbusTagSchema).min(1, 'a device needs at least one tag').describe('Tags to read; the planner merges them into as few reads as it can'),
  })
  .strict()
  .superRefine((dev, ctx) => {
    for (const issue of deviceProblems(dev)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

/** Cross-field checks zod cannot express per field; each problem names its place. */
function deviceProblems(dev: {
  tags: ModbusTag[];
  max_registers_per_read: number;
  reconnect_min_ms: number;
  reconnect_max_ms: number;
}): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const seen = new Map<string, number>();
  dev.tags.forEach((tag, i) => {
    const at = (field: string) => ['tags', i, field];
    const prev = seen.get(tag.name);
    if (prev !== undefined) out.push({ path: at('name'), message: `duplicate tag name "${tag.name}" (also tags[${prev}])` });
    else seen.set(tag.name, i);
    const bitArea = tag.area === 'coil' || tag.area === 'discrete_input';
    const type = tagType(tag);
    if (bitArea && type !== 'bool') out.push({ path: at('type'), message: `a ${tag.area} holds one bit: use type bool or leave type out` });
    if (bitArea && tag.bit !== undefined) out.push({ path: at('bit'), message: `bit selects a bit of a register; a ${tag.area} is already one bit` });
    if (!bitArea && type === 'bool' && tag.bit === undefined) out.push({ path: at('bit'), message: 'a bool from a register needs bit (0..15)' });
    if (!bitArea && tag.bit !== undefined && type !== 'bool') out.push({ path: at('type'), message: 'a tag with bit is a bool: use type bool or leave type out' });
    if (tagWidth(tag) === 2 && tag.address > 65534) out.push({ path: at('address'), message: `a ${type} needs two registers: the address must be at most 65534` });
    if (tag.word_order !== undefined && tagWidth(tag) !== 2) out.push({ path: at('word_order'), message: 'word_order applies only to 32-bit types (int32, uint32, float32)' });
    if (tagWidth(tag) > dev.max_registers_per_read) out.push({ path: at('type'), message: `a ${type} needs 2 registers but max_registers_per_read is ${dev.max_registers_per_read}` });
  });
  if (dev.reconnect_min_ms > dev.reconnect_max_ms) out.push({ path: ['reconnect_min_ms'], message: 'must not exceed reconnect_max_ms' });
  return out;
}

export type ModbusTag = z.infer<typeof modbusTagSchema>;
export type ModbusTransport = z.infer<typeof modbusTransportSchema>;
export type ModbusDeviceConfig = z.infer<typeof modbusDeviceSchema>;

/** Register count a tag occupies (bits count as 1 in their bit table). */
export function tagWidth(tag: ModbusTag): number {
  const t = tagType(tag);
  return t === 'int32' || t === 'uint32' || t === 'float32' ? 2 : 1;
}

export function tagType(tag: ModbusTag): (typeof MODBUS_TYPES)[number] {
  if (tag.type) return tag.type;
  return tag.area === 'coil' || tag.area === 'discrete_input' || tag.bit !== undefined ? 'bool' : 'uint16';
}
