/**
 * Big-endian bit streams for the chunk formats (xor-chunk.ts, chunk.ts), and the views that give
 * a float64's two 32-bit halves without allocating.
 */

export const TWO_32 = 2 ** 32;
export const f64 = new Float64Array(1);
export const u32 = new Uint32Array(f64.buffer);
// Typed arrays use the platform's byte order; every platform Node runs on is little-endian.
export const LO = 0;
export const HI = 1;

/** A chunk that cannot be decoded: truncated, or of a format this build does not know. */
export class ChunkCorruptError extends Error {}

export function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Appends bits to a growable byte buffer. */
export class BitWriter {
  buf: Uint8Array;
  bitPos = 0;

  constructor(initialBytes = 64) {
    this.buf = new Uint8Array(initialBytes);
  }

  private ensure(bits: number): void {
    const needBytes = ((this.bitPos + bits + 7) >>> 3) + 1;
    if (needBytes <= this.buf.length) return;
    const next = new Uint8Array(Math.max(needBytes, this.buf.length * 2));
    next.set(this.buf);
    this.buf = next;
  }

  /** Writes the `n` (0..32) low bits of `v`, most significant first. */
  write(v: number, n: number): void {
    if (n === 0) return;
    this.ensure(n);
    let left = n;
    const buf = this.buf;
    while (left > 0) {
      const free = 8 - (this.bitPos & 7);
      const take = free < left ? free : left;
      const bits = (v >>> (left - take)) & ((1 << take) - 1);
      buf[this.bitPos >>> 3]! |= bits << (free - take);
      left -= take;
      this.bitPos += take;
    }
  }

  /** Writes the `n` (0..64) low bits of the 64-bit number hi:lo. */
  write64(hi: number, lo: number, n: number): void {
    if (n > 32) {
      this.write(hi, n - 32);
      this.write(lo, 32);
    } else {
      this.write(lo, n);
    }
  }

  /** Writes a signed integer (|v| < 2^53) as 64-bit two's complement. */
  writeInt64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    const lo = v - hi * TWO_32;
    this.write(hi >>> 0, 32);
    this.write(lo >>> 0, 32);
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, (this.bitPos + 7) >>> 3);
  }
}

export class BitReader {
  bitPos: number;
  constructor(
    private readonly buf: Uint8Array,
    startBit = 0,
  ) {
    this.bitPos = startBit;
  }

  /** Reads `n` (0..32) bits as an unsigned number. */
  read(n: number): number {
    let result = 0;
    let left = n;
    const buf = this.buf;
    while (left > 0) {
      const byteIndex = this.bitPos >>> 3;
      if (byteIndex >= buf.length) throw new ChunkCorruptError('chunk ends in the middle of a sample');
      const avail = 8 - (this.bitPos & 7);
      const take = avail < left ? avail : left;
      const bits = (buf[byteIndex]! >>> (avail - take)) & ((1 << take) - 1);
      result = result * (1 << take) + bits;
      left -= take;
      this.bitPos += take;
    }
    return result;
  }

  readBit(): number {
    const byteIndex = this.bitPos >>> 3;
    if (byteIndex >= this.buf.length) throw new ChunkCorruptError('chunk ends in the middle of a sample');
    const bit = (this.buf[byteIndex]! >>> (7 - (this.bitPos & 7))) & 1;
    this.bitPos++;
    return bit;
  }

  /** Counts leading one bits, consuming them and the terminating zero; stops after `max` ones. */
  readOnes(max: number): number {
    let ones = 0;
    while (ones < max && this.readBit() === 1) ones++;
    return ones;
  }

  readInt64(): number {
    const hi = this.read(32) | 0;
    const lo = this.read(32);
    return hi * TWO_32 + lo;
  }
}

/** Signed value of an n-bit two's complement field. */
export function signed(v: number, n: number): number {
  // Up to 32 bits a shift pair sign-extends without the float arithmetic of the general case.
  if (n <= 32) return (v << (32 - n)) >> (32 - n);
  return v >= 2 ** (n - 1) ? v - 2 ** n : v;
}
