// Approving an `expression` alert: rewrite the invariant so the observed state holds. For the
// shapes `learn` writes (`P implies X <= c`, `P implies X >= a and X <= b`, `P implies D == v`,
// `P implies (D == v or D == w)`), the conclusion is widened: a bound moves to the observed value,
// an equality gains the observed value. Anything else accepts exactly the observed state:
// `(expr) or (t1 == v1 and t2 == v2)`.
import { parseExpr, type Node } from '../../rules/expr/parse.js';
import { exprName } from '../../rules/learn/invariants.js';

const PREC: Record<string, number> = { implies: 1, or: 2, and: 3, '==': 5, '!=': 5, '<': 5, '<=': 5, '>': 5, '>=': 5, '+': 6, '-': 6, '*': 7, '/': 7 };

function num(v: number): string {
  return String(v);
}

/** Source text of a node, with parentheses where precedence needs them. */
export function printExpr(n: Node, parent = 0): string {
  switch (n.k) {
    case 'num':
      return num(n.v);
    case 'tag':
      return exprName(n.name);
    case 'neg':
      return `-${printExpr(n.e, 8)}`;
    case 'not':
      return wrap(`not ${printExpr(n.e, 4)}`, 4, parent);
    case 'call':
      return `${n.fn}(${n.args.map((a) => printExpr(a)).join(', ')})`;
    case 'bin': {
      const p = PREC[n.op];
      // implies is right-associative, the others left-associative
      const l = printExpr(n.l, n.op === 'implies' ? p + 1 : p);
      const r = printExpr(n.r, n.op === 'implies' ? p : p + 1);
      return wrap(`${l} ${n.op} ${r}`, p, parent);
    }
  }
}

function wrap(s: string, p: number, parent: number): string {
  return p < parent ? `(${s})` : s;
}

/** One unit in the seventh significant digit beyond v (observed values are rounded to seven, rules/template.ts roundValue). */
export function outward(v: number, dir: 1 | -1): number {
  if (v === 0) return dir * 1e-6;
  const step = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 6);
  return Number((v + dir * step).toPrecision(8));
}

type Values = Record<string, number>;

function evalNode(n: Node, v: Values): number {
  switch (n.k) {
    case 'num':
      return n.v;
    case 'tag':
      return v[n.name] ?? NaN;
    case 'neg':
      return -evalNode(n.e, v);
    case 'not':
      return evalNode(n.e, v) === 0 ? 1 : 0;
    case 'call': {
      const a = n.args.map((x) => evalNode(x, v));
      return n.fn === 'abs' ? Math.abs(a[0]) : n.fn === 'min' ? Math.min(...a) : Math.max(...a);
    }
    case 'bin': {
      const l = evalNode(n.l, v);
      const r = evalNode(n.r, v);
      const b = (x: boolean) => (x ? 1 : 0);
      switch (n.op) {
        case '==': return b(l === r);
        case '!=': return b(l !== r);
        case '<': return b(l < r);
        case '<=': return b(l <= r);
        case '>': return b(l > r);
        case '>=': return b(l >= r);
        case '+': return l + r;
        case '-': return l - r;
        case '*': return l * r;
        case '/': return l / r;
        case 'and': return b(l !== 0 && r !== 0);
        case 'or': return b(l !== 0 || r !== 0);
        case 'implies': return b(l === 0 || r !== 0);
      }
    }
  }
}

/** The conclusion widened so that it holds for v, or undefined when its shape is not known. */
function widen(n: Node, v: Values): Node | undefined {
  if (evalNode(n, v) !== 0) return n;
  if (n.k !== 'bin') return undefined;
  if (n.op === 'and') {
    const l = widen(n.l, v);
    const r = widen(n.r, v);
    return l && r ? { ...n, l, r } : undefined;
  }
  // tag OP number
  if (n.l.k === 'tag' && n.r.k === 'num' && v[n.l.name] !== undefined) {
    const x = v[n.l.name];
    if (n.op === '<=' || n.op === '<') return { k: 'bin', op: '<=', l: n.l, r: { k: 'num', v: outward(x, 1) } };
    if (n.op === '>=' || n.op === '>') return { k: 'bin', op: '>=', l: n.l, r: { k: 'num', v: outward(x, -1) } };
    if (n.op === '==') return { k: 'bin', op: 'or', l: n, r: { k: 'bin', op: '==', l: n.l, r: { k: 'num', v: x } } };
    return undefined;
  }
  // (D == a or D == b): add D == observed
  if (n.op === 'or') {
    const tags = new Set<string>();
    const collect = (m: Node): boolean => {
      if (m.k === 'bin' && m.op === 'or') return collect(m.l) && collect(m.r);
      if (m.k === 'bin' && m.op === '==' && m.l.k === 'tag' && m.r.k === 'num') return (tags.add(m.l.name), true);
      return false;
    };
    if (collect(n) && tags.size === 1) {
      const t = [...tags][0];
      if (v[t] !== undefined) return { k: 'bin', op: 'or', l: n, r: { k: 'bin', op: '==', l: { k: 'tag', name: t, col: 0 }, r: { k: 'num', v: v[t] } } };
    }
  }
  return undefined;
}

/** The expression rewritten so the observed values satisfy it; `how` says which way. */
export function acceptState(expr: string, observed: Record<string, unknown>): { expr: string; how: 'widened' | 'exact_state' } {
  const values: Values = {};
  for (const [k, x] of Object.entries(observed)) if (typeof x === 'number') values[k] = x;
  const ast = parseExpr(expr);
  if (ast.k === 'bin' && ast.op === 'implies') {
    const c = widen(ast.r, values);
    if (c) return { expr: printExpr({ ...ast, r: c }), how: 'widened' };
  } else {
    const c = widen(ast, values);
    if (c) return { expr: printExpr(c), how: 'widened' };
  }
  const state = Object.entries(values).map(([t, x]) => `${exprName(t)} == ${num(x)}`);
  return { expr: `(${expr}) or (${state.join(' and ')})`, how: 'exact_state' };
}
