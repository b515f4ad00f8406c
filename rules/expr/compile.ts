// Compiles a parsed expression into a closure over a device's value array (no allocation per call).
// Every value is a number: booleans are 1/0, a condition holds when its value is not 0.
import { type Node, parseExpr, tagRefs } from './parse.js';

export type Evaluator = (values: Float64Array) => number;

export interface CompiledExpr {
  source: string;
  eval: Evaluator;
  /** distinct tag names used, in first-use order */
  tags: string[];
  /** their positions in the device value array */
  indices: Int32Array;
}

/** Parse and compile; throws ExprError for a bad expression or an unknown tag. */
export function compileExpr(src: string, index: ReadonlyMap<string, number>): CompiledExpr {
  const ast = parseExpr(src, new Set(index.keys()));
  const tags = [...new Set(tagRefs(ast).map((t) => t.name))];
  return { source: src, eval: build(ast, index), tags, indices: Int32Array.from(tags, (t) => index.get(t)!) };
}

/** true when every tag the expression reads has a known (non-NaN) value. */
export function allKnown(c: CompiledExpr, values: Float64Array): boolean {
  const ix = c.indices;
  for (let i = 0; i < ix.length; i++) if (Number.isNaN(values[ix[i]])) return false;
  return true;
}

function build(n: Node, index: ReadonlyMap<string, number>): Evaluator {
  switch (n.k) {
    case 'num': {
      const v = n.v;
      return () => v;
    }
    case 'tag': {
      const i = index.get(n.name)!;
      return (vals) => vals[i];
    }
    case 'not': {
      const e = build(n.e, index);
      return (vals) => (e(vals) === 0 ? 1 : 0);
    }
    case 'neg': {
      const e = build(n.e, index);
      return (vals) => -e(vals);
    }
    case 'call': {
      const args = n.args.map((a) => build(a, index));
      if (n.fn === 'abs') {
        const a = args[0];
        return (vals) => Math.abs(a(vals));
      }
      const pick = n.fn === 'min' ? Math.min : Math.max;
      return (vals) => {
        let r = args[0](vals);
        for (let i = 1; i < args.length; i++) r = pick(r, args[i](vals));
        return r;
      };
    }
    case 'bin': {
      const l = build(n.l, index);
      const r = build(n.r, index);
      switch (n.op) {
        case '+':
          return (v) => l(v) + r(v);
        case '-':
          return (v) => l(v) - r(v);
        case '*':
          return (v) => l(v) * r(v);
        case '/':
          return (v) => l(v) / r(v);
        case '==':
          return (v) => (l(v) === r(v) ? 1 : 0);
        case '!=':
          return (v) => (l(v) !== r(v) ? 1 : 0);
        case '<':
          return (v) => (l(v) < r(v) ? 1 : 0);
        case '<=':
          return (v) => (l(v) <= r(v) ? 1 : 0);
        case '>':
          return (v) => (l(v) > r(v) ? 1 : 0);
        case '>=':
          return (v) => (l(v) >= r(v) ? 1 : 0);
        case 'and':
          return (v) => (l(v) !== 0 && r(v) !== 0 ? 1 : 0);
        case 'or':
          return (v) => (l(v) !== 0 || r(v) !== 0 ? 1 : 0);
        case 'implies':
          return (v) => (l(v) === 0 || r(v) !== 0 ? 1 : 0);
      }
    }
  }
}
