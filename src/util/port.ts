/** A TCP port number, 1..65535. */
export class Port {
  private constructor(private readonly n: number) {}

  static tryOf(n: number): Port | undefined {
    return Number.isInteger(n) && n >= 1 && n <= 65535 ? new Port(n) : undefined;
  }

  static of(n: number): Port {
    const p = Port.tryOf(n);
    if (!p) throw new Error(`${n} is not a port; use an integer from 1 to 65535`);
    return p;
  }

  toNumber(): number {
    return this.n;
  }
  toString(): string {
    return String(this.n);
  }
}
