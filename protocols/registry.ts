// Protocol registry: maps a device's protocol name to the factory of its Poller.
import type { Logger } from 'pino';
import type { DeviceConfig } from './devices.js';
import { createModbusPoller } from './modbus/poller.js';
import { createOpcuaPoller } from './opcua/poller.js';
import { agentPkiDir } from './opcua/pki.js';
import type { Poller } from './types.js';

export interface PollerContext {
  logger: Logger;
  /** the agent's data directory (OPC UA keeps its PKI in {dataDir}/pki) */
  dataDir?: string;
  /** folder of the config file: relative paths in a device config start there */
  baseDir?: string;
}

export type PollerFactory = (device: DeviceConfig, ctx: PollerContext) => Poller;

const factories = new Map<string, PollerFactory>([
  [
    'modbus',
    (device, ctx) => {
      if (device.protocol !== 'modbus') throw new Error(`device "${device.id}": the modbus factory got protocol "${device.protocol}"`);
      return createModbusPoller(device, { logger: ctx.logger });
    },
  ],
  [
    'opcua',
    (device, ctx) => {
      if (device.protocol !== 'opcua') throw new Error(`device "${device.id}": the opcua factory got protocol "${device.protocol}"`);
      if (!ctx.dataDir) throw new Error(`device "${device.id}": an OPC UA poller needs the agent's data directory for its certificates (PollerContext.dataDir)`);
      return createOpcuaPoller(device, { logger: ctx.logger, pkiDir: agentPkiDir(ctx.dataDir), baseDir: ctx.baseDir });
    },
  ],
]);

/** Add (or replace) the factory of a protocol, e.g. 'opcua'. */
export function registerProtocol(name: string, factory: PollerFactory): void {
  factories.set(name, factory);
}

/** Names of the registered protocols. */
export function registeredProtocols(): string[] {
  return [...factories.keys()];
}

export function pollerFactory(protocol: string): PollerFactory | undefined {
  return factories.get(protocol);
}

/**
 * Create the Poller of a device. Throws for an unknown protocol, and for static config errors
 * the protocol finds (e.g. a Modbus tag that cannot be read); no I/O happens here.
 */
export function createPoller(device: DeviceConfig, ctx: PollerContext): Poller {
  const factory = factories.get(device.protocol);
  if (!factory) throw new Error(`device "${device.id}": unknown protocol "${device.protocol}" (known: ${registeredProtocols().join(', ')})`);
  return factory(device, ctx);
}
