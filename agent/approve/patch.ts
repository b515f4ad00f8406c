// Changes an approval makes to one rule of the baseline, as small composable operations on the
// rule's fields. They are kept in the audit file and applied over the rule files at load time, so
// an approval that expires is simply no longer applied (the baseline files are never rewritten).
// Operations commute where it matters: two widenings of one bound keep the wider one, adding two
// allowed values keeps both, and dropping one approval leaves the others' effect intact.

/** A field path inside a rule, e.g. ['max'] or ['baseline', 'setpoint']. */
export type FieldPath = string[];

export type ChangeOp =
  | { op: 'set'; path: FieldPath; value: unknown }
  | { op: 'unset'; path: FieldPath }
  /** add value to a list if absent; `default` is the list the detector uses when the field is absent */
  | { op: 'add'; path: FieldPath; value: unknown; default?: unknown[] }
  | { op: 'remove'; path: FieldPath; value: unknown; default?: unknown[] }
  /** the field becomes at least value (an upper bound widened); absent stays absent (no bound) */
  | { op: 'at_least'; path: FieldPath; value: number; default?: number }
  /** the field becomes at most value (a lower bound widened) */
  | { op: 'at_most'; path: FieldPath; value: number; default?: number };

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The object holding the last path element, created on the way for 'set'. */
function parentOf(rule: Obj, path: FieldPath, create: boolean): Obj | undefined {
  let cur: Obj = rule;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (isObj(next)) cur = next;
    else if (create) cur = cur[k] = {};
    else return undefined;
  }
  return cur;
}

const same = (a: unknown, b: unknown) => a === b || (typeof a === 'number' && typeof b === 'boolean' ? a === (b ? 1 : 0) : typeof b === 'number' && typeof a === 'boolean' ? b === (a ? 1 : 0) : false);

/** A copy of the rule with the operations applied in order (the input is not changed). */
export function applyChanges(rule: Obj, ops: readonly ChangeOp[]): Obj {
  const out = structuredClone(rule);
  for (const c of ops) {
    const key = c.path[c.path.length - 1];
    const parent = parentOf(out, c.path, c.op !== 'unset');
    if (parent === undefined) continue;
    switch (c.op) {
      case 'set':
        parent[key] = structuredClone(c.value);
        break;
      case 'unset':
        delete parent[key];
        break;
      case 'add':
      case 'remove': {
        const cur = Array.isArray(parent[key]) ? (parent[key] as unknown[]) : c.default ? [...c.default] : [];
        const has = cur.some((v) => same(v, c.value));
        if (c.op === 'add') parent[key] = has ? cur : [...cur, c.value];
        else parent[key] = cur.filter((v) => !same(v, c.value));
        break;
      }
      case 'at_least':
      case 'at_most': {
        const cur = typeof parent[key] === 'number' ? (parent[key] as number) : c.default;
        if (cur === undefined) break;
        parent[key] = c.op === 'at_least' ? Math.max(cur, c.value) : Math.min(cur, c.value);
        break;
      }
    }
  }
  return out;
}

/** One line per operation, for the audit summary and the CLI. */
export function describeChanges(before: Obj, ops: readonly ChangeOp[]): string[] {
  const after = applyChanges(before, ops);
  return ops.map((c) => {
    const name = c.path.join('.');
    const get = (o: Obj) => c.path.reduce<unknown>((x, k) => (isObj(x) ? x[k] : undefined), o);
    const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
    if (c.op === 'unset') return `${name} removed (was ${show(get(before))})`;
    if (c.op === 'add') return `${name}: ${JSON.stringify(c.value)} allowed`;
    if (c.op === 'remove') return `${name}: ${JSON.stringify(c.value)} no longer watched`;
    return `${name} ${show(get(before) ?? (c.op === 'set' ? undefined : c.default))} -> ${show(get(after))}`;
  });
}
