// The device section of a config: one entry per device, its schema chosen by `protocol`.
// Each protocol owns its schema (protocols/<name>/config.ts); this is where they are composed.
import { z } from 'zod';
import { modbusDeviceSchema } from './modbus/config.js';
import { opcuaDeviceSchema } from './opcua/config.js';

export const deviceSchema = z.discriminatedUnion('protocol', [modbusDeviceSchema, opcuaDeviceSchema]);
export type DeviceConfig = z.infer<typeof deviceSchema>;
