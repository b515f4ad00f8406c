// Placeholder until the detector registry lands: checks rule ids and device/tag references.
import type { DeviceConfig } from '../agent/config/schema.js';
import type { RuleConfig } from './schema.js';

export function validateRules(rules: RuleConfig[], devices: DeviceConfig[]): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const ids = new Set<string>();
  rules.forEach((r, i) => {
    if (ids.has(r.id)) problems.push({ path: `rules[${i}].id`, message: `duplicate rule id '${r.id}'` });
    ids.add(r.id);
    const d = devices.find((x) => x.id === r.device);
    if (!d) {
      problems.push({ path: `rules[${i}].device`, message: `unknown device '${r.device}'; known: ${devices.map((x) => x.id).join(', ')}` });
      return;
    }
    const tagNames = new Set(d.tags.map((t) => t.name));
    for (const [k, t] of [...(r.tag ? [['tag', r.tag]] : []), ...(r.tags ?? []).map((t, j) => [`tags[${j}]`, t])] as [string, string][]) {
      if (!tagNames.has(t)) problems.push({ path: `rules[${i}].${k}`, message: `unknown tag '${t}' of device '${d.id}'` });
    }
  });
  return problems;
}
