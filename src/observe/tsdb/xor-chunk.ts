/**
 * A chunk of (timestamp, value) samples compressed as in Facebook's Gorilla paper and Prometheus's
 * TSDB: timestamps as delta-of-delta with variable-width buckets, values as the XOR with the
 * previous value, keeping only the meaningful bits. Regular scrapes of slowly changing values
 * cost one or two bits per timestamp and a few bits per value.
 *
 * Layout (big-endian bit stream):
 *   u16 sample count | 64-bit first timestamp (ms) | 64-bit first value |
 *   per later sample: timestamp delta-of-delta bucket, value XOR block.
 *
 * Timestamp buckets (ms): `0` same delta; `10`+14 bits; `110`+17 bits; `1110`+20 bits;
 * `1111`+64 bits. The first delta is encoded as a delta-of-delta against a delta of 0.
 * Value blocks: `0` same value; `10` + bits within the previous leading/trailing window;
 * `11` + 5 bits leading zeros + 6 bits meaningful length (0 means 64) + the bits.
 *
 * This is chunk format 1, what metrics.db files written before format 2 (chunk.ts) hold: the
 * store reads it only to migrate such files. XOR value coding itself lives on in format 2.
 */
import { BitReader, BitWriter, ChunkCorruptError, ctz32, f64, HI, LO, signed, u32 } from './bit-stream.js';

export { ChunkCorruptError };

const BUCKETS = [
  { prefix: 0b10, prefixBits: 2, bits: 14 },
  { prefix: 0b110, prefixBits: 3, bits: 17 },
  { prefix: 0b1110, prefixBits: 4, bits: 20 },
] as const;

/**
 * Encodes samples one at a time. Timestamps must increase strictly (the caller checks);
 * the encoder state is small so one per active series is cheap.
 */
/** Width of the delta-of-delta field after 1, 2 or 3 leading one bits. */
const DOD_BITS = [0, 14, 17, 20] as const;

export class XorChunkEncoder {
  private readonly w = new BitWriter(32);
  private n = 0;
  private prevT = 0;
  private prevDelta = 0;
  private prevHi = 0;
  private prevLo = 0;
  private leading = 0xff;
  private trailing = 0;
  private firstT = 0;
  private lastT = 0;

  constructor() {
    this.w.write(0, 16); // count, patched in bytes()
  }

  get count(): number {
    return this.n;
  }
  get minT(): number {
    return this.firstT;
  }
  get maxT(): number {
    return this.lastT;
  }

  append(t: number, v: number): void {
    f64[0] = v;
    const hi = u32[HI]!;
    const lo = u32[LO]!;
    const w = this.w;
    if (this.n === 0) {
      w.writeInt64(t);
      w.write(hi, 32);
      w.write(lo, 32);
      this.firstT = t;
    } else {
      const delta = t - this.prevT;
      const dod = delta - this.prevDelta;
      if (dod === 0) {
        w.write(0, 1);
      } else {
        let done = false;
        for (const b of BUCKETS) {
          const half = 2 ** (b.bits - 1);
          if (dod >= -half && dod < half) {
            w.write(b.prefix, b.prefixBits);
            w.write(dod < 0 ? dod + 2 ** b.bits : dod, b.bits);
            done = true;
            break;
          }
        }
        if (!done) {
          w.write(0b1111, 4);
          w.writeInt64(dod);
        }
      }
      this.prevDelta = delta;
      this.writeValue(hi, lo);
    }
    this.prevT = t;
    this.lastT = t;
    this.prevHi = hi;
    this.prevLo = lo;
    this.n++;
  }

  private writeValue(hi: number, lo: number): void {
    const w = this.w;
    const xh = (hi ^ this.prevHi) >>> 0;
    const xl = (lo ^ this.prevLo) >>> 0;
    if (xh === 0 && xl === 0) {
      w.write(0, 1);
      return;
    }
    let leading = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
    const trailing = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    if (leading > 31) leading = 31; // 5 bits
    if (this.leading !== 0xff && leading >= this.leading && trailing >= this.trailing) {
      w.write(0b10, 2);
      this.writeMeaningful(xh, xl, this.trailing, 64 - this.leading - this.trailing);
      return;
    }
    this.leading = leading;
    this.trailing = trailing;
    const sig = 64 - leading - trailing;
    w.write(0b11, 2);
    w.write(leading, 5);
    w.write(sig & 63, 6); // 64 is stored as 0
    this.writeMeaningful(xh, xl, trailing, sig);
  }

  private writeMeaningful(xh: number, xl: number, trailing: number, sig: number): void {
    let h: number;
    let l: number;
    if (trailing === 0) {
      h = xh;
      l = xl;
    } else if (trailing >= 32) {
      h = 0;
      l = xh >>> (trailing - 32);
    } else {
      l = ((xl >>> trailing) | (xh << (32 - trailing))) >>> 0;
      h = xh >>> trailing;
    }
    this.w.write64(h, l, sig);
  }

  /** The encoded chunk so far (a copy, safe to store while appending continues). */
  bytes(): Uint8Array {
    const b = this.w.bytes().slice();
    b[0] = (this.n >>> 8) & 0xff;
    b[1] = this.n & 0xff;
    return b;
  }
}

/** Decoded samples of one chunk, in time order. */
export interface ChunkSamples {
  t: number[];
  v: number[];
  /**
   * Timestamps whose value is Prometheus's staleness marker. V8 turns every NaN stored in a
   * number[] into the one canonical NaN, so the marker's bit pattern cannot travel in `v`.
   */
  stale?: Set<number>;
}

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** Decodes a chunk written by XorChunkEncoder. Throws ChunkCorruptError on a truncated chunk. */
export function decodeXorChunk(data: Uint8Array, out: ChunkSamples = { t: [], v: [] }): ChunkSamples {
  if (data.length < 2) throw new ChunkCorruptError(`chunk of ${data.length} bytes has no header`);
  const r = new BitReader(data);
  const n = r.read(16);
  if (n === 0) return out;
  let t = r.readInt64();
  let hi = r.read(32);
  let lo = r.read(32);
  u32[HI] = hi;
  u32[LO] = lo;
  out.t.push(t);
  out.v.push(f64[0]!);
  if (hi === STALE_HI && lo === STALE_LO) (out.stale ??= new Set()).add(t);
  let delta = 0;
  let leading = 0;
  let trailing = 0;
  for (let i = 1; i < n; i++) {
    // The bucket is the number of leading one bits (at most 4) of the timestamp field.
    let ones = 0;
    while (ones < 4 && r.readBit() === 1) ones++;
    const dod = ones === 0 ? 0 : ones === 4 ? r.readInt64() : signed(r.read(DOD_BITS[ones]!), DOD_BITS[ones]!);
    delta += dod;
    t += delta;
    if (r.readBit() === 1) {
      if (r.readBit() === 1) {
        leading = r.read(5);
        let sig = r.read(6);
        if (sig === 0) sig = 64;
        trailing = 64 - leading - sig;
      }
      const sig = 64 - leading - trailing;
      // Read the meaningful bits as hi:lo, then shift left by `trailing`.
      let mh = 0;
      let ml: number;
      if (sig > 32) {
        mh = r.read(sig - 32);
        ml = r.read(32);
      } else {
        ml = r.read(sig);
      }
      let xh: number;
      let xl: number;
      if (trailing === 0) {
        xh = mh;
        xl = ml;
      } else if (trailing >= 32) {
        xh = (ml << (trailing - 32)) >>> 0;
        xl = 0;
      } else {
        xh = ((mh << trailing) | (ml >>> (32 - trailing))) >>> 0;
        xl = (ml << trailing) >>> 0;
      }
      hi = (hi ^ xh) >>> 0;
      lo = (lo ^ xl) >>> 0;
    }
    u32[HI] = hi;
    u32[LO] = lo;
    out.t.push(t);
    out.v.push(f64[0]!);
    if (hi === STALE_HI && lo === STALE_LO) (out.stale ??= new Set()).add(t);
  }
  return out;
}
