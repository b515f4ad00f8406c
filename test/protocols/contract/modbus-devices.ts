// Modbus devices for the Poller contract: the bundled tank PLC simulator over Modbus TCP (native
// and modbus-serial clients) and RTU over TCP, and the same PLC on a serial line (a socat pty
// pair), with the requests each received named by function code.
import { silentLogger } from '../../../protocols/log.js';
import { modbusDeviceSchema, type ModbusDeviceConfig } from '../../../protocols/modbus/config.js';
import { createModbusPoller } from '../../../protocols/modbus/poller.js';
import { Plc, parseSimulatorConfig, startModbusSimulator, tankSimulatorConfig, tankTags } from '../../../simulators/modbus/index.js';
import { freePort } from '../../helpers/ports.js';
import { startPtyPair, startSerialPeer } from '../modbus/serial-peer.js';
import type { DeviceUnderTest } from './poller.contract.js';

/** "FC03", "FC08/000b", "FC43/0e": what a request asks, in the spec's numbers. */
export function requestKind(pdu: Buffer): string {
  const fc = `FC${String(pdu[0]).padStart(2, '0')}`;
  if (pdu[0] === 8 && pdu.length >= 3) return `${fc}/${pdu.readUInt16BE(1).toString(16).padStart(4, '0')}`;
  if (pdu[0] === 43 && pdu.length >= 2) return `${fc}/${pdu[1].toString(16).padStart(2, '0')}`;
  return fc;
}

/** The tank's register map as agent tags. */
const TAGS = tankTags().map((t) => ({
  name: t.name,
  area: t.area,
  address: t.address,
  type: t.type,
  ...(t.word_order && t.type.endsWith('32') ? { word_order: t.word_order } : {}),
  ...(t.scale !== undefined ? { scale: t.scale } : {}),
}));

function device(transport: Record<string, unknown>): ModbusDeviceConfig {
  // Short timeouts, no retries: an outage shows in the first poll instead of after seconds.
  return modbusDeviceSchema.parse({ id: 'contract-plc', protocol: 'modbus', timeout_ms: 300, retries: 0, diagnostics_interval_ms: 1000, transport, tags: TAGS });
}

/** The tank PLC simulator over TCP; down = the PLC goes offline (connections dropped, port closed). */
export async function simulatedPlc(framing: 'tcp' | 'rtu_over_tcp', client?: 'native' | 'modbus-serial'): Promise<DeviceUnderTest> {
  const sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1, framing }), { timeline: false });
  const info = sim.plcs[0];
  const plc = sim.plc(info.id);
  const seen: string[] = [];
  const unwatch = plc.onRequest((_unit, pdu) => seen.push(requestKind(pdu)));
  const type = framing === 'tcp' ? 'tcp' : 'rtu_over_tcp';
  const transport = { type, host: '127.0.0.1', port: info.port, ...(client ? { client } : {}) };
  const nowhere = await freePort();
  return {
    protocol: 'modbus',
    tags: TAGS.map((t) => t.name),
    poller: () => createModbusPoller(device(transport), { logger: silentLogger }),
    unreachable: () => createModbusPoller(device({ ...transport, port: nowhere }), { logger: silentLogger }),
    unreachableCode: 'connect_refused',
    down: () => plc.setOffline(true),
    up: () => plc.setOffline(false),
    requests: () => [...seen],
    stop: async () => {
      unwatch();
      await sim.stop();
    },
  };
}

/** The tank PLC on a serial line (a socat pty pair); down = the slave stops answering, as a dead one on the bus does. */
export async function serialPlc(): Promise<DeviceUnderTest> {
  const pty = await startPtyPair();
  const plc = new Plc(parseSimulatorConfig(tankSimulatorConfig({ plcs: 1 })).plcs[0], silentLogger);
  let silent = false;
  const slave = await startSerialPeer(pty.theirs, (req) => (silent ? null : plc.request(req.pdu, req.unit)));
  const transport = { type: 'rtu', path: pty.ours, baud_rate: 19200, parity: 'none' };
  return {
    protocol: 'modbus',
    tags: TAGS.map((t) => t.name),
    poller: () => createModbusPoller(device(transport), { logger: silentLogger }),
    unreachable: () => createModbusPoller(device({ ...transport, path: `${pty.ours}-no-such-port` }), { logger: silentLogger }),
    unreachableCode: 'connect_refused',
    down: async () => {
      silent = true;
    },
    up: async () => {
      silent = false;
    },
    requests: () => slave.requests.map((r) => requestKind(r.pdu)),
    stop: async () => {
      await slave.close();
      await pty.close();
    },
  };
}
