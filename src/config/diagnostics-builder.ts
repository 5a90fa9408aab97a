/**
 * The small builder the semantic checks of a stack-file section share: `push` locates a problem
 * and records it as an error, `ref` reports a name that is not declared, with a did-you-mean when
 * one is close. Checks collect every problem this way and never stop at the first.
 */
import { didYouMean } from '../util/did-you-mean.js';
import type { Diagnostic } from './diagnostic.js';

/** Where a document path is (semantic-checks.ts's Locate; repeated here to keep the import one way). */
export type Locate = (path: (string | number)[], key?: boolean) => { line: number; column: number };

/** What a check says; the builder adds where (file, line, column, path) and the severity. */
export type DiagnosticBody = Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'>;

export interface DiagnosticsBuilder {
  /** Everything pushed so far, in order. */
  readonly out: Diagnostic[];
  /** An error at `path` (at its key instead of its value with `key`). */
  push(path: (string | number)[], d: DiagnosticBody, key?: boolean): void;
  /**
   * `name` must be one of `known`; otherwise "no WHAT named `name`", fixed by the closest known
   * name or by declaring it under `where`.
   */
  ref(path: (string | number)[], name: string, known: readonly string[], what: string, where: string): void;
}

export function diagnosticsBuilder(file: string, locate: Locate): DiagnosticsBuilder {
  const out: Diagnostic[] = [];
  const push = (path: (string | number)[], d: DiagnosticBody, key = false): void => {
    const pos = locate(path, key);
    out.push({ severity: 'error', file, line: pos.line, column: pos.column, path: path.join('.'), ...d });
  };
  const ref = (path: (string | number)[], name: string, known: readonly string[], what: string, where: string) => {
    if (known.includes(name)) return;
    const guess = didYouMean(name, known);
    push(path, {
      code: 'dangling-reference',
      message: `no ${what} named \`${name}\``,
      fix: guess ? `did you mean \`${guess}\`?` : `declare it under ${where}`,
    });
  };
  return { out, push, ref };
}
