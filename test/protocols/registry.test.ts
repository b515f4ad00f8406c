// The protocol registry: modbus is registered, unknown protocols are refused clearly, new
// protocols can be added.
import { describe, expect, it } from 'vitest';
import { deviceSchema, type DeviceConfig } from '../../agent/config/schema.js';
import { silentLogger } from '../../protocols/log.js';
import { createPoller, pollerFactory, registerProtocol, registeredProtocols } from '../../protocols/registry.js';
import type { Poller } from '../../protocols/types.js';

const modbusDevice = deviceSchema.parse({
  id: 'plc1',
  protocol: 'modbus',
  transport: { type: 'tcp', host: '127.0.0.1', port: 1502 },
  tags: [
    { name: 'a', area: 'holding_register', address: 0 },
    { name: 'b', area: 'holding_register', address: 1 },
    { name: 'c', area: 'coil', address: 0 },
  ],
});

describe('protocol registry', () => {
  it('creates a Modbus poller without any I/O', () => {
    expect(registeredProtocols()).toContain('modbus');
    const p = createPoller(modbusDevice, { logger: silentLogger });
    expect(p.device).toBe('plc1');
    expect(p.requestsPerPoll).toBe(2);
    expect(p.isConnected()).toBe(false);
  });

  it('refuses an unknown protocol, naming the known ones', () => {
    const dev = { ...modbusDevice, protocol: 'bacnet' } as unknown as DeviceConfig;
    expect(() => createPoller(dev, { logger: silentLogger })).toThrow(/unknown protocol "bacnet" \(known: .*modbus/);
    expect(pollerFactory('bacnet')).toBeUndefined();
  });

  it('takes new protocols', () => {
    const fake: Poller = {
      device: 'x',
      requestsPerPoll: 0,
      connect: async () => undefined,
      poll: async () => ({ samples: [], facts: [], requests: 0, errors: [] }),
      readFacts: async () => [],
      isConnected: () => true,
      close: async () => undefined,
    };
    registerProtocol('test-fake', () => fake);
    const dev = { ...modbusDevice, protocol: 'test-fake' } as unknown as DeviceConfig;
    expect(createPoller(dev, { logger: silentLogger })).toBe(fake);
  });
});
