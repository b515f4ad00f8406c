// setpoint-tamper: an attacker's FC16 rewrites setpoints and controller gains; the old values come back at the end.
import { z } from 'zod';
import { writeRegistersRequest, writeCoilRequest } from '../pdu.js';
import { encodeWords, type TagDef } from '../tags.js';
import { isException } from '../exceptions.js';
import type { Plc } from '../plc.js';
import { defineScenario, ScenarioError } from './types.js';

const params = z
  .object({
    writes: z
      .array(z.object({ tag: z.string().min(1), value: z.number().finite() }).strict())
      .min(1)
      .optional()
      .describe('Tags and the values the attacker writes; default: level_high_sp 4.8 m and pid_kp 20 on the tank'),
  })
  .strict();

function send(plc: Plc, tag: TagDef, words: number[]): void {
  const pdu = tag.area === 'coil' ? writeCoilRequest(tag.address, words[0] !== 0) : writeRegistersRequest(tag.address, words);
  const res = plc.request(pdu);
  if (!res || isException(res)) throw new ScenarioError(`setpoint-tamper: PLC ${plc.id} refused the write of ${tag.name}; pick a value its program accepts`);
}

export default defineScenario({
  name: 'setpoint-tamper',
  description: 'Rewrites configuration registers (level high setpoint, PID gain) with FC16 as an attacker would, and restores them at the end.',
  models: ['tank', 'bench'],
  params,
  start(plc, p) {
    const writes = p.writes ?? plc.model.tamperDefaults;
    if (writes.length === 0) throw new ScenarioError(`setpoint-tamper: the ${plc.model.type} model has no default setpoints; give params.writes`);
    // Check every target before writing any, so a bad entry leaves the PLC untouched.
    const targets = writes.map((w) => {
      const tag = plc.tag(w.tag);
      if (tag.area !== 'holding_register' && tag.area !== 'coil') {
        throw new ScenarioError(`setpoint-tamper: ${w.tag} is a ${tag.area}; only holding registers and coils can be written`);
      }
      return { tag, value: w.value };
    });
    const saved: Array<{ tag: TagDef; words: number[] }> = [];
    for (const { tag, value } of targets) {
      const words = encodeWords(tag, plc.readTag(tag.name));
      send(plc, tag, encodeWords(tag, value));
      saved.push({ tag, words });
    }
    return { saved };
  },
  stop(plc, s) {
    for (const { tag, words } of s.saved.reverse()) send(plc, tag, words);
  },
});
