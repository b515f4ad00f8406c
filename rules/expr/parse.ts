// Parser of the rule expression language (no eval, no Function): numbers, true/false, tag names,
// == != < <= > >= and or not implies, + - * /, parentheses, abs() min() max().
// Precedence, lowest first: implies (right-assoc), or, and, not, comparison, + -, * /, unary -.
import { OperationalError } from '../../protocols/errors.js';

export type Node =
  | { k: 'num'; v: number }
  | { k: 'tag'; name: string; col: number }
  | { k: 'bin'; op: BinOp; l: Node; r: Node }
  | { k: 'not'; e: Node }
  | { k: 'neg'; e: Node }
  | { k: 'call'; fn: Fn; args: Node[] };

export type BinOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | 'and' | 'or' | 'implies';
type Fn = 'abs' | 'min' | 'max';
const FUNCTIONS: Record<Fn, [number, number]> = { abs: [1, 1], min: [2, 8], max: [2, 8] };
const KEYWORDS = new Set(['and', 'or', 'not', 'implies', 'true', 'false']);
const CMP = new Set(['==', '!=', '<', '<=', '>', '>=']);
/**
 * Bounds that keep a config from exhausting the stack or the parser's time: nesting (parentheses,
 * not, unary minus, function arguments, the right side of implies) and length. Learned invariants
 * nest 3 levels and stay under 200 characters.
 */
export const MAX_EXPR_DEPTH = 32;
export const MAX_EXPR_CHARS = 4096;

export type ExprErrorCode = 'expr_syntax' | 'expr_unknown_tag' | 'expr_too_deep' | 'expr_too_long';

/** A bad expression; column is 1-based. */
export class ExprError extends OperationalError {
  declare readonly code: ExprErrorCode;
  constructor(
    message: string,
    readonly column: number,
    code: ExprErrorCode = 'expr_syntax',
  ) {
    super(code, `${message} at column ${column}`, 'config');
  }
}

interface Token {
  t: 'num' | 'name' | 'op' | 'end';
  s: string;
  col: number;
  v?: number;
}

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const col = i + 1;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if ((c >= '0' && c <= '9') || (c === '.' && src[i + 1] >= '0' && src[i + 1] <= '9')) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', s: m[0], col, v: Number(m[0]) });
      i += m[0].length;
      if (/[A-Za-z_]/.test(src[i] ?? '')) throw new ExprError(`unexpected '${src[i]}' after number ${m[0]}`, i + 1);
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i))!;
      out.push({ t: 'name', s: m[0], col });
      i += m[0].length;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) throw new ExprError('unclosed ` around a tag name', col);
      if (end === i + 1) throw new ExprError('empty tag name between ``', col);
      out.push({ t: 'name', s: src.slice(i + 1, end), col });
      i = end + 1;
    } else {
      const two = src.slice(i, i + 2);
      if (two === '&&' || two === '||') throw new ExprError(`use ${two === '&&' ? 'and' : 'or'} instead of ${two}`, col);
      if (['==', '!=', '<=', '>='].includes(two)) {
        out.push({ t: 'op', s: two, col });
        i += 2;
      } else if ('<>+-*/(),'.includes(c)) {
        out.push({ t: 'op', s: c, col });
        i++;
      } else if (c === '=') {
        throw new ExprError("use == to compare, not '='", col);
      } else if (c === '!') {
        throw new ExprError("use 'not' instead of '!'", col);
      } else {
        throw new ExprError(`unexpected character '${c}'`, col);
      }
    }
  }
  out.push({ t: 'end', s: 'end of expression', col: src.length + 1 });
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Token[]) {}

  /**
   * Parse the part opened by the token just taken; refuses nesting beyond MAX_EXPR_DEPTH (at that
   * token's column) before the stack can overflow.
   */
  private nested(part: () => Node): Node {
    if (++this.depth > MAX_EXPR_DEPTH) {
      throw new ExprError(`nested deeper than the limit of ${MAX_EXPR_DEPTH} levels (parentheses, not, unary minus, function arguments, implies)`, this.toks[this.i - 1].col, 'expr_too_deep');
    }
    const n = part();
    this.depth--;
    return n;
  }

  private peek(): Token {
    return this.toks[this.i];
  }
  private isOp(s: string): boolean {
    const t = this.peek();
    return (t.t === 'op' || t.t === 'name') && t.s === s;
  }
  private expect(s: string): void {
    if (!this.isOp(s)) this.fail(`expected '${s}'`);
    this.i++;
  }
  private fail(what: string): never {
    const t = this.peek();
    const got = t.t === 'end' ? 'end of expression' : `'${t.s}'`;
    throw new ExprError(`${what}, found ${got}`, t.col);
  }

  parse(): Node {
    if (this.peek().t === 'end') throw new ExprError('empty expression', 1);
    const n = this.implies();
    if (this.peek().t !== 'end') this.fail('expected an operator (== != < <= > >= + - * / and or implies)');
    return n;
  }
  private implies(): Node {
    const l = this.or();
    if (this.isOp('implies')) {
      this.i++;
      return { k: 'bin', op: 'implies', l, r: this.nested(() => this.implies()) };
    }
    return l;
  }
  private or(): Node {
    let l = this.and();
    while (this.isOp('or')) {
      this.i++;
      l = { k: 'bin', op: 'or', l, r: this.and() };
    }
    return l;
  }
  private and(): Node {
    let l = this.not();
    while (this.isOp('and')) {
      this.i++;
      l = { k: 'bin', op: 'and', l, r: this.not() };
    }
    return l;
  }
  private not(): Node {
    if (this.isOp('not')) {
      this.i++;
      return { k: 'not', e: this.nested(() => this.not()) };
    }
    return this.cmp();
  }
  private cmp(): Node {
    const l = this.add();
    const t = this.peek();
    if (t.t === 'op' && CMP.has(t.s)) {
      this.i++;
      const r = this.add();
      const n = this.peek();
      if (n.t === 'op' && CMP.has(n.s)) throw new ExprError(`comparisons do not chain; write a ${t.s} b and b ${n.s} c`, n.col);
      return { k: 'bin', op: t.s as BinOp, l, r };
    }
    return l;
  }
  private add(): Node {
    let l = this.mul();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.peek().s as BinOp;
      this.i++;
      l = { k: 'bin', op, l, r: this.mul() };
    }
    return l;
  }
  private mul(): Node {
    let l = this.unary();
    while (this.isOp('*') || this.isOp('/')) {
      const op = this.peek().s as BinOp;
      this.i++;
      l = { k: 'bin', op, l, r: this.unary() };
    }
    return l;
  }
  private unary(): Node {
    if (this.isOp('-')) {
      this.i++;
      return { k: 'neg', e: this.nested(() => this.unary()) };
    }
    return this.primary();
  }
  private primary(): Node {
    const t = this.peek();
    if (t.t === 'num') {
      this.i++;
      return { k: 'num', v: t.v! };
    }
    if (t.t === 'op' && t.s === '(') {
      this.i++;
      const e = this.nested(() => this.implies());
      this.expect(')');
      return e;
    }
    if (t.t === 'name') {
      if (t.s === 'true' || t.s === 'false') {
        this.i++;
        return { k: 'num', v: t.s === 'true' ? 1 : 0 };
      }
      if (KEYWORDS.has(t.s)) this.fail('expected a value');
      this.i++;
      if (this.isOp('(')) return this.call(t);
      return { k: 'tag', name: t.s, col: t.col };
    }
    this.fail('expected a value (number, true, false, tag name, function or parenthesis)');
  }
  private call(name: Token): Node {
    const fn = name.s as Fn;
    if (!(fn in FUNCTIONS)) throw new ExprError(`unknown function '${name.s}' (use abs, min or max)`, name.col);
    this.expect('(');
    const args: Node[] = [];
    if (!this.isOp(')')) {
      args.push(this.nested(() => this.implies()));
      while (this.isOp(',')) {
        this.i++;
        args.push(this.nested(() => this.implies()));
      }
    }
    this.expect(')');
    const [lo, hi] = FUNCTIONS[fn];
    if (args.length < lo || args.length > hi) {
      throw new ExprError(`${fn}() takes ${lo === hi ? lo : `${lo} to ${hi}`} argument${hi === 1 ? '' : 's'}, got ${args.length}`, name.col);
    }
    return { k: 'call', fn, args };
  }
}

/**
 * Parse an expression. With `tags`, every name must be one of them (ExprError names the column).
 * At most MAX_EXPR_CHARS long and MAX_EXPR_DEPTH deep (ExprError otherwise, never a stack overflow).
 */
export function parseExpr(src: string, tags?: ReadonlySet<string>): Node {
  if (src.length > MAX_EXPR_CHARS) throw new ExprError(`${src.length} characters long, over the limit of ${MAX_EXPR_CHARS}`, MAX_EXPR_CHARS + 1, 'expr_too_long');
  const ast = new Parser(lex(src)).parse();
  if (tags) {
    for (const t of tagRefs(ast)) {
      if (!tags.has(t.name)) throw new ExprError(`unknown tag '${t.name}'`, t.col, 'expr_unknown_tag');
    }
  }
  return ast;
}

/** Tag references in source order (duplicates included). */
export function tagRefs(n: Node, out: { name: string; col: number }[] = []): { name: string; col: number }[] {
  switch (n.k) {
    case 'tag':
      out.push({ name: n.name, col: n.col });
      break;
    case 'bin':
      tagRefs(n.l, out);
      tagRefs(n.r, out);
      break;
    case 'not':
    case 'neg':
      tagRefs(n.e, out);
      break;
    case 'call':
      for (const a of n.args) tagRefs(a, out);
      break;
    case 'num':
      break;
  }
  return out;
}
