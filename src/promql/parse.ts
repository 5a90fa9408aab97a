/**
 * Turns PromQL text into the AST of ast.ts by walking the tree of the official grammar
 * (`@prometheus-io/lezer-promql`, the one Prometheus's own UI uses). Anything outside the
 * supported subset is refused with a message naming it and listing what is supported.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { compileMatcher, type LabelMatcher, type MatchOp } from './labels.js';
import {
  AGGREGATE_OPS,
  ARITHMETIC_OPS,
  COMPARISON_OPS,
  SET_OPS,
  type AggregateOp,
  type BinaryOp,
  type Expr,
  type ValueType,
  type VectorMatching,
  type VectorSelectorExpr,
} from './ast.js';
import { FUNCTIONS } from './functions.js';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

/** A query that cannot be parsed or uses something outside the supported subset (HTTP 400, `bad_data`). */
export class PromqlSyntaxError extends Error {}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** Parses a Prometheus duration such as `5m`, `1h30m`, `250ms` into milliseconds. */
export function parseDurationMs(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched !== text.length || text.length === 0) {
    // Prometheus 3 also accepts a bare number of seconds.
    if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
    throw new PromqlSyntaxError(`"${text}" is not a duration; write e.g. 30s, 5m, 1h30m`);
  }
  return total;
}

function parseNumber(text: string): number {
  const t = text.toLowerCase();
  const sign = t.startsWith('-') ? -1 : 1;
  const body = t.replace(/^[+-]/, '');
  if (body === 'inf' || body === 'infinity') return sign * Infinity;
  if (body === 'nan') return NaN;
  if (/^0x[0-9a-f]+$/.test(body)) return sign * parseInt(body.slice(2), 16);
  if (/^[0-9.]+(e[+-]?\d+)?$/.test(body)) return sign * Number(body);
  return (sign * parseDurationMs(body)) / 1000;
}

/** Unquotes a Go-style string literal ("..." or '...' with escapes, `...` raw). */
export function unquote(text: string): string {
  const q = text[0];
  const body = text.slice(1, -1);
  if (q === '`') return body;
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/gs, (_, e: string) => {
    switch (e[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 'x':
      case 'u':
      case 'U':
        return String.fromCodePoint(parseInt(e.slice(1), 16));
      default:
        return /^[0-7]{3}$/.test(e) ? String.fromCharCode(parseInt(e, 8)) : e;
    }
  });
}

const SUPPORTED_AGGREGATIONS = AGGREGATE_OPS.join(', ');

class TreeReader {
  constructor(private readonly src: string) {}

  text(n: SyntaxNode): string {
    return this.src.slice(n.from, n.to);
  }

  children(n: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
    return out;
  }

  fail(n: SyntaxNode, message: string): never {
    throw new PromqlSyntaxError(`${message} (at character ${n.from + 1}: "${this.text(n)}")`);
  }

  expr(n: SyntaxNode): Expr {
    switch (n.name) {
      case 'PromQL':
      case 'ParenExpr': {
        const inner = this.children(n);
        if (inner.length !== 1) this.fail(n, 'expected one expression');
        return this.expr(inner[0]!);
      }
      case 'NumberDurationLiteral':
        return { kind: 'number', value: parseNumber(this.text(n)) };
      case 'StringLiteral':
        return { kind: 'string', value: unquote(this.text(n)) };
      case 'VectorSelector':
        return this.vectorSelector(n, 0);
      case 'MatrixSelector':
        return this.matrixSelector(n);
      case 'OffsetExpr':
        return this.offset(n);
      case 'UnaryExpr': {
        const [op, operand] = this.children(n);
        const sign = this.text(op!);
        return { kind: 'unary', op: sign === '-' ? '-' : '+', expr: this.expr(operand!) };
      }
      case 'FunctionCall':
        return this.call(n);
      case 'AggregateExpr':
        return this.aggregate(n);
      case 'BinaryExpr':
        return this.binary(n);
      case 'SubqueryExpr':
        return this.fail(n, 'subqueries (expr[range:step]) are not supported; use a range selector on a stored series');
      case 'StepInvariantExpr':
        return this.fail(n, 'the @ modifier is not supported; use offset');
      default:
        return this.fail(n, `unsupported expression ${n.name}`);
    }
  }

  private duration(n: SyntaxNode): number {
    if (n.name === 'NumberDurationLiteralInDurationContext') return parseDurationMs(this.text(n));
    const kids = this.children(n);
    if ((n.name === 'DurationExpr' || n.name === 'OffsetDurationExpr') && kids.length === 1)
      return this.duration(kids[0]!);
    if (n.name === 'OffsetDurationExpr' && kids.length === 2 && kids[0]!.name === 'UnaryOp') {
      const sign = this.text(kids[0]!) === '-' ? -1 : 1;
      return sign * this.duration(kids[1]!);
    }
    return this.fail(n, 'duration arithmetic is not supported; write a plain duration such as 5m');
  }

  private vectorSelector(n: SyntaxNode, offsetMs: number): VectorSelectorExpr {
    const matchers: LabelMatcher[] = [];
    for (const c of this.children(n)) {
      if (c.name === 'Identifier' || c.name === 'MetricName') {
        matchers.push({ name: '__name__', op: '=', value: this.text(c) });
      } else if (c.name === 'LabelMatchers') {
        for (const m of this.children(c)) matchers.push(this.matcher(m));
      } else {
        this.fail(c, 'unexpected part of a selector');
      }
    }
    // Prometheus refuses selectors that would match every series, such as {a=""} or {a=~".*"}.
    if (matchers.every((m) => compileMatcher(m).matches(''))) {
      this.fail(n, 'vector selector must contain at least one non-empty matcher');
    }
    return { kind: 'vector-selector', matchers, offsetMs, text: this.text(n) };
  }

  private matcher(n: SyntaxNode): LabelMatcher {
    const kids = this.children(n);
    if (n.name === 'QuotedLabelName') {
      // {"metric_name"}: a quoted metric name on its own.
      return { name: '__name__', op: '=', value: unquote(this.text(kids[0]!)) };
    }
    if (n.name !== 'UnquotedLabelMatcher' && n.name !== 'QuotedLabelMatcher') this.fail(n, 'expected a label matcher');
    const [nameNode, opNode, valueNode] = kids;
    const name =
      nameNode!.name === 'QuotedLabelName' ? unquote(this.text(nameNode!.firstChild!)) : this.text(nameNode!);
    const op = this.text(opNode!) as MatchOp;
    return { name, op, value: unquote(this.text(valueNode!)) };
  }

  /**
   * The lezer grammar attaches postfix `[range]` and `offset` to the whole expression before
   * them (`a - b offset 1m` parses as `(a - b) offset 1m`), where Prometheus binds them to the
   * operand right before them. Apply them to the rightmost operand, as Prometheus does.
   */
  private postfix(target: SyntaxNode, apply: (inner: Expr) => Expr): Expr {
    if (target.name === 'BinaryExpr') {
      const kids = this.children(target);
      return this.binary(target, this.postfix(kids[kids.length - 1]!, apply));
    }
    if (target.name === 'UnaryExpr') {
      const [op, operand] = this.children(target);
      return { kind: 'unary', op: this.text(op!) === '-' ? '-' : '+', expr: this.postfix(operand!, apply) };
    }
    return apply(this.expr(target));
  }

  private matrixSelector(n: SyntaxNode): Expr {
    const [sel, dur] = this.children(n);
    const rangeMs = this.duration(dur!);
    return this.postfix(sel!, (inner) => {
      if (inner.kind !== 'vector-selector') return this.fail(n, 'a range [..] applies to a vector selector only');
      return { kind: 'matrix-selector', selector: inner, rangeMs };
    });
  }

  private offset(n: SyntaxNode): Expr {
    const kids = this.children(n);
    const offsetMs = this.duration(kids[kids.length - 1]!);
    return this.postfix(kids[0]!, (inner) => {
      if (inner.kind === 'vector-selector') return { ...inner, offsetMs };
      if (inner.kind === 'matrix-selector') return { ...inner, selector: { ...inner.selector, offsetMs } };
      return this.fail(n, 'offset must follow an instant or range vector selector');
    });
  }

  private call(n: SyntaxNode): Expr {
    const [ident, body] = this.children(n);
    const fn = this.text(ident!);
    const def = FUNCTIONS[fn];
    if (!def) {
      return this.fail(
        n,
        `function ${fn}() is not supported; supported functions: ${Object.keys(FUNCTIONS).sort().join(', ')}`,
      );
    }
    const args = this.children(body!).map((c) => this.expr(c));
    if (args.length < def.args.length - (def.optional ?? 0) || args.length > def.args.length) {
      this.fail(n, `${fn}() takes ${def.args.length} argument(s) (${def.args.join(', ')}), got ${args.length}`);
    }
    args.forEach((a, i) => {
      const want = def.args[i]!;
      const got = typeOf(a);
      if (got !== want) this.fail(n, `${fn}() argument ${i + 1} must be a ${typeName(want)}, got a ${typeName(got)}`);
    });
    return { kind: 'call', fn, args };
  }

  private aggregate(n: SyntaxNode): Expr {
    let op: string | undefined;
    let grouping: string[] = [];
    let without = false;
    let body: SyntaxNode | undefined;
    for (const c of this.children(n)) {
      if (c.name === 'AggregateOp') op = this.text(c);
      else if (c.name === 'AggregateModifier') {
        const [kw, labels] = this.children(c);
        without = kw!.name === 'Without';
        grouping = labels
          ? this.children(labels).map((l) =>
              l.name === 'QuotedLabelName' ? unquote(this.text(l.firstChild!)) : this.text(l),
            )
          : [];
      } else if (c.name === 'FunctionCallBody') body = c;
    }
    if (!op || !(AGGREGATE_OPS as readonly string[]).includes(op)) {
      return this.fail(
        n,
        `aggregation ${op ?? '?'}() is not supported; supported aggregations: ${SUPPORTED_AGGREGATIONS}`,
      );
    }
    const args = body ? this.children(body) : [];
    if (args.length !== 1) this.fail(n, `${op}() takes one instant vector, got ${args.length} argument(s)`);
    const expr = this.expr(args[0]!);
    if (typeOf(expr) !== 'vector') this.fail(n, `${op}() takes an instant vector, got a ${typeName(typeOf(expr))}`);
    return { kind: 'aggregate', op: op as AggregateOp, grouping, without, expr };
  }

  private binary(n: SyntaxNode, rhsOverride?: Expr): Expr {
    const kids = this.children(n);
    const lhs = this.expr(kids[0]!);
    const rhs = rhsOverride ?? this.expr(kids[kids.length - 1]!);
    const opText = this.text(kids[1]!).toLowerCase();
    const all: readonly string[] = [...ARITHMETIC_OPS, ...COMPARISON_OPS, ...SET_OPS];
    if (!all.includes(opText)) this.fail(kids[1]!, `operator ${opText} is not supported; supported: ${all.join(' ')}`);
    const op = opText as BinaryOp;
    let bool = false;
    const matching: VectorMatching = { card: 'one-to-one', on: false, labels: [], include: [] };
    for (const c of kids.slice(2, -1)) {
      if (c.name === 'BoolModifier') bool = true;
      else if (c.name === 'MatchingModifierClause') {
        const parts = this.children(c);
        const labelsOf = (g: SyntaxNode | undefined): string[] => (g ? this.children(g).map((l) => this.text(l)) : []);
        matching.on = parts[0]!.name === 'On';
        matching.labels = labelsOf(parts[1]);
        if (parts[2]) {
          matching.card = parts[2].name === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
          matching.include = labelsOf(parts[3]);
        }
      } else this.fail(c, `unsupported binary operator modifier ${c.name}`);
    }
    const lt = typeOf(lhs);
    const rt = typeOf(rhs);
    if (lt !== 'scalar' && lt !== 'vector')
      this.fail(n, `binary ${op} needs scalars or instant vectors, the left side is a ${typeName(lt)}`);
    if (rt !== 'scalar' && rt !== 'vector')
      this.fail(n, `binary ${op} needs scalars or instant vectors, the right side is a ${typeName(rt)}`);
    const isComparison = (COMPARISON_OPS as readonly string[]).includes(op);
    if (isComparison && lt === 'scalar' && rt === 'scalar' && !bool) {
      this.fail(n, 'comparisons between scalars must use the bool modifier (e.g. 1 > bool 0)');
    }
    if (bool && !isComparison) this.fail(n, 'bool modifier can only be used on comparison operators');
    if ((SET_OPS as readonly string[]).includes(op)) {
      if (lt !== 'vector' || rt !== 'vector')
        this.fail(n, `set operator ${op} is only allowed between instant vectors`);
      if (matching.card !== 'one-to-one') this.fail(n, `no grouping allowed for ${op} operation`);
      matching.card = 'one-to-one';
    }
    return { kind: 'binary', op, lhs, rhs, bool, matching };
  }
}

export function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vector-selector':
    case 'aggregate':
      return 'vector';
    case 'matrix-selector':
      return 'matrix';
    case 'call':
      return FUNCTIONS[e.fn]!.returns;
    case 'unary':
      return typeOf(e.expr);
    case 'binary':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
  }
}

function typeName(t: ValueType): string {
  return t === 'vector' ? 'instant vector' : t === 'matrix' ? 'range vector' : t;
}

/** Parses a PromQL expression; throws PromqlSyntaxError naming the problem and its position. */
export function parsePromql(query: string): Expr {
  const tree = parser.parse(query);
  let error: SyntaxNode | undefined;
  tree.iterate({
    enter: (ref) => {
      if (ref.type.isError && !error) error = ref.node;
      return !error;
    },
  });
  const reader = new TreeReader(query);
  if (error) {
    const near = query.slice(Math.max(0, error.from - 10), error.to + 10);
    // An unknown function name parses as a selector followed by garbage: say so.
    const fnMatch = /([a-zA-Z_][a-zA-Z0-9_]*)\s*\($/.exec(query.slice(0, error.to));
    if (fnMatch && !FUNCTIONS[fnMatch[1]!]) {
      throw new PromqlSyntaxError(
        `unknown function ${fnMatch[1]}(); supported functions: ${Object.keys(FUNCTIONS).sort().join(', ')}`,
      );
    }
    throw new PromqlSyntaxError(`parse error at character ${error.from + 1} near "${near}"`);
  }
  if (query.trim() === '') throw new PromqlSyntaxError('empty query; write a PromQL expression such as up');
  return reader.expr(tree.topNode);
}
