/** A span of time. Parsed once from text like `2s`, `1m30s`, `500ms`, `7d`; never a raw number in the code. */
export class Duration {
  private constructor(private readonly ms: number) {}

  static readonly pattern = '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$';
  private static readonly units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

  static milliseconds(n: number): Duration {
    return new Duration(n);
  }
  static seconds(n: number): Duration {
    return new Duration(n * 1000);
  }
  static minutes(n: number): Duration {
    return new Duration(n * 60_000);
  }

  /** Returns undefined when the text is not a duration. */
  static tryParse(text: string): Duration | undefined {
    if (!new RegExp(Duration.pattern).test(text)) return undefined;
    let total = 0;
    for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
      total += Number(m[1]) * (Duration.units[m[2] as string] ?? 0);
    }
    return new Duration(Math.round(total));
  }

  static parse(text: string): Duration {
    const d = Duration.tryParse(text);
    if (!d) throw new Error(`"${text}" is not a duration; write a number with a unit, e.g. 500ms, 2s, 1m30s, 7d`);
    return d;
  }

  toMilliseconds(): number {
    return this.ms;
  }
  toSeconds(): number {
    return this.ms / 1000;
  }
  plus(other: Duration): Duration {
    return new Duration(this.ms + other.ms);
  }
  times(f: number): Duration {
    return new Duration(this.ms * f);
  }
  min(other: Duration): Duration {
    return this.ms <= other.ms ? this : other;
  }

  toString(): string {
    if (this.ms === 0) return '0s';
    if (this.ms % 86_400_000 === 0) return `${this.ms / 86_400_000}d`;
    if (this.ms % 3_600_000 === 0) return `${this.ms / 3_600_000}h`;
    if (this.ms % 60_000 === 0) return `${this.ms / 60_000}m`;
    if (this.ms % 1000 === 0) return `${this.ms / 1000}s`;
    return `${this.ms}ms`;
  }
}
