import { it } from 'vitest';
import { silentLogger } from '../../agent/log.js';
import { parseSimulatorConfig } from '../../simulators/modbus/config.js';
import { tankSimulatorConfig } from '../../simulators/modbus/index.js';
import { Plc } from '../../simulators/modbus/plc.js';
it('stats', () => {
  for (const seed of [1, 2, 3]) {
  const plc = new Plc(parseSimulatorConfig(tankSimulatorConfig({ seed })).plcs[0], silentLogger);
  const st: Record<string, [number, number]> = {};
  const onFlow: number[] = [];
  for (let s = 0; s < 12 * 3600; s++) {
    for (let k = 0; k < 10; k++) plc.step(100);
    for (const t of plc.model.tags) {
      const v = plc.readTag(t.name);
      const cur = st[t.name] ?? [Infinity, -Infinity];
      st[t.name] = [Math.min(cur[0], v), Math.max(cur[1], v)];
    }
    if (plc.readTag('pump_running')) onFlow.push(plc.readTag('flow_rate'));
  }
  console.log(seed, JSON.stringify(Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.map((x) => Math.round(x * 1000) / 1000)]))), Math.min(...onFlow));
  }
});
