/** The PromQL subset Groundwork evaluates, as a tagged union built from the official grammar's tree. */
import type { LabelMatcher } from './labels.js';

export const AGGREGATE_OPS = ['sum', 'avg', 'min', 'max', 'count'] as const;
export type AggregateOp = (typeof AGGREGATE_OPS)[number];

export const ARITHMETIC_OPS = ['+', '-', '*', '/', '%', '^'] as const;
export const COMPARISON_OPS = ['==', '!=', '>', '<', '>=', '<='] as const;
export const SET_OPS = ['and', 'or', 'unless'] as const;
export type ArithmeticOp = (typeof ARITHMETIC_OPS)[number];
export type ComparisonOp = (typeof COMPARISON_OPS)[number];
export type SetOp = (typeof SET_OPS)[number];
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

export interface VectorMatching {
  card: 'one-to-one' | 'many-to-one' | 'one-to-many';
  /** `on(...)` when true, `ignoring(...)` (or nothing) when false. */
  on: boolean;
  labels: string[];
  /** Labels copied from the "one" side with group_left/group_right(...). */
  include: string[];
}

export interface VectorSelectorExpr {
  kind: 'vector-selector';
  matchers: LabelMatcher[];
  offsetMs: number;
  /** The selector as written, for messages. */
  text: string;
}

export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | VectorSelectorExpr
  | { kind: 'matrix-selector'; selector: VectorSelectorExpr; rangeMs: number }
  | { kind: 'call'; fn: string; args: Expr[] }
  | { kind: 'aggregate'; op: AggregateOp; grouping: string[]; without: boolean; expr: Expr }
  | { kind: 'binary'; op: BinaryOp; lhs: Expr; rhs: Expr; bool: boolean; matching: VectorMatching }
  | { kind: 'unary'; op: '-' | '+'; expr: Expr };

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';
