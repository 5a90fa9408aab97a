/** A size in bytes, parsed from `512`, `64KiB`, `10MB`, `1GiB`. */
export class ByteSize {
  private constructor(private readonly n: number) {}

  static readonly pattern = '^\\d+(\\.\\d+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|k|K|M|G)?$';
  private static readonly units: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KiB: 1024,
    MiB: 1024 ** 2,
    GiB: 1024 ** 3,
    TiB: 1024 ** 4,
    k: 1024,
    K: 1024,
    M: 1024 ** 2,
    G: 1024 ** 3,
  };

  static bytes(n: number): ByteSize {
    return new ByteSize(n);
  }
  static mebibytes(n: number): ByteSize {
    return new ByteSize(n * 1024 * 1024);
  }

  static tryParse(text: string): ByteSize | undefined {
    const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)?$/.exec(text.trim());
    if (!m) return undefined;
    const unit = m[2] ?? 'B';
    const f = ByteSize.units[unit];
    if (f === undefined) return undefined;
    return new ByteSize(Math.round(Number(m[1]) * f));
  }

  static parse(text: string): ByteSize {
    const b = ByteSize.tryParse(text);
    if (!b) throw new Error(`"${text}" is not a size; write e.g. 512KiB, 10MiB, 1GiB`);
    return b;
  }

  toBytes(): number {
    return this.n;
  }

  toString(): string {
    for (const [u, f] of [
      ['GiB', 1024 ** 3],
      ['MiB', 1024 ** 2],
      ['KiB', 1024],
    ] as const) {
      if (this.n >= f && this.n % f === 0) return `${this.n / f}${u}`;
    }
    return `${this.n}B`;
  }
}
