import { LineCounter } from 'yaml';

/** Turns byte offsets of one source text into 1-based line and column. */
export class SourceMap {
  constructor(
    readonly file: string,
    private readonly counter: LineCounter,
  ) {}

  position(offset: number | undefined): { line: number; column: number } {
    if (offset === undefined) return { line: 1, column: 1 };
    const p = this.counter.linePos(offset);
    return { line: p.line, column: p.col };
  }
}
