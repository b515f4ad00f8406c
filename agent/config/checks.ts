// Cross-field checks zod cannot express: duplicates, overlapping tags, serial port conflicts,
// schedules that cannot fit, and rules that name unknown devices or tags.
import type { AgentConfig, DeviceConfig } from './schema.js';
import type { ConfigProblem } from './load.js';
import { tagType, tagWidth, type ModbusDeviceConfig } from '../../protocols/modbus/config.js';
import { planRequests, PlanError } from '../../protocols/modbus/planner.js';
import { validateRules } from '../../rules/validate.js';

export function crossCheck(config: AgentConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  config.devices.forEach((d, i) => {
    const first = seen.get(d.id);
    if (first !== undefined) problems.push({ path: `devices[${i}].id`, message: `duplicate device id '${d.id}' (also devices[${first}]); give each device its own id` });
    else seen.set(d.id, i);
    if (d.protocol === 'modbus') problems.push(...checkModbusDevice(d, `devices[${i}]`));
  });
  problems.push(...checkSerialPorts(config.devices));
  problems.push(...validateRules(config.rules, config.devices));
  return problems;
}

function checkModbusDevice(d: ModbusDeviceConfig, at: string): ConfigProblem[] {
  // Per-tag checks (types, bits, widths, duplicate names) live in the Modbus config schema.
  const problems: ConfigProblem[] = [];
  // Two tags reading the same register as different types are almost always a typo in the map.
  // Bit tags are exempt: reading a status word and its bits separately is normal.
  const sorted = d.tags.map((t, j) => ({ t, j })).filter(({ t }) => t.bit === undefined).sort((a, b) => a.t.area.localeCompare(b.t.area) || a.t.address - b.t.address);
  for (let k = 1; k < sorted.length; k++) {
    for (let m = k - 1; m >= 0; m--) {
      const a = sorted[m], b = sorted[k];
      if (a.t.area !== b.t.area || a.t.address + tagWidth(a.t) <= b.t.address) break;
      if (tagType(a.t) !== tagType(b.t)) {
        problems.push({ path: `${at}.tags[${b.j}].address`, message: `${b.t.area} ${b.t.address} (${tagType(b.t)} '${b.t.name}') overlaps ${tagType(a.t)} '${a.t.name}' at ${a.t.address}; fix one of the addresses or types` });
      }
    }
  }
  if (problems.length > 0) return problems;
  let requests: number;
  try {
    requests = planRequests(d.tags, d).length;
  } catch (e) {
    if (e instanceof PlanError) return [{ path: `${at}.tags`, message: e.message }];
    throw e;
  }
  // A cycle in which every read runs into its timeout must still end before the next slot.
  // (Retries of failed reads are not counted: a device that keeps failing is degraded anyway.)
  const worst = requests * d.timeout_ms + (requests - 1) * d.pause_between_requests_ms;
  if (worst > d.interval_ms) {
    problems.push({
      path: `${at}.interval_ms`,
      message: `${d.interval_ms} ms cannot fit the worst case of ${requests} read${requests === 1 ? '' : 's'} at timeout_ms ${d.timeout_ms}${d.pause_between_requests_ms ? ` with ${d.pause_between_requests_ms} ms pauses` : ''} (${worst} ms); raise interval_ms to at least ${worst}, or lower timeout_ms`,
    });
  }
  return problems;
}

/** One serial port is one bus with one master connection: two device entries cannot both open it. */
function checkSerialPorts(devices: DeviceConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const ports = new Map<string, string>();
  devices.forEach((d, i) => {
    if (d.protocol !== 'modbus' || d.transport.type !== 'rtu' || !d.enabled) return;
    const owner = ports.get(d.transport.path);
    if (owner) problems.push({ path: `devices[${i}].transport.path`, message: `serial port ${d.transport.path} is already opened by device '${owner}'; a port can be polled by one device entry only` });
    else ports.set(d.transport.path, d.id);
  });
  return problems;
}
