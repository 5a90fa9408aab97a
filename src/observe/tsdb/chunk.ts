/**
 * Chunk format 2: a run of (timestamp, value) samples of one series, what a row of metrics.db holds.
 *
 * Timestamps are delta-of-delta coded as in Gorilla and Prometheus, with a first bucket sized for
 * scrape jitter: a 15 s scrape that fires a few milliseconds late costs 7 bits, not Prometheus's 16.
 *
 * Values are coded one of two ways, chosen per chunk:
 * - decimal: most samples are integers (counters, bytes) or short decimals (23.47 °C, CPU seconds
 *   from /proc in hundredths). Such a value is m / 10^k for an integer m and a small scale k, and
 *   the chunk stores the difference between successive m: a counter that grows by 0..63 costs
 *   9 bits where its XOR costs ~20, a two-decimal gauge 9 bits where its XOR costs ~55 (every
 *   mantissa bit of 23.47 differs from 23.12's). A later sample that needs more decimals raises k
 *   in the stream. This is the idea VictoriaMetrics uses; the bit layout is our own.
 * - xor: Gorilla's XOR coding, for values that are not short decimals (NaN, the staleness marker,
 *   infinities, -0, results of division). An encoder starts in decimal and re-encodes the chunk as
 *   xor the first time a value does not fit, so a chunk is one or the other throughout.
 *
 * Layout: byte 0 = 0x20 | mode (0 decimal, 1 xor), bytes 1-2 = sample count (big-endian), then a
 * big-endian bit stream: 64-bit first timestamp; the first value (decimal: 4-bit scale, 64-bit m;
 * xor: its 64 bits); then per later sample a timestamp field and a value field.
 *
 * Timestamp delta-of-delta (ms): `0` same delta; `10`+5 bits; `110`+14; `1110`+20; `1111`+64.
 * Decimal value difference (in units of 10^-k): `0` same value; `10`+7 bits; `110`+14; `1110`+24;
 * `11110`+40; `111110`+64; `111111` + 4-bit new scale, then the difference at the new scale.
 * Xor value: `0` same; `10` + bits in the previous window; `11` + 5 bits leading zeros + 6 bits
 * length (0 means 64) + the bits.
 */
import { BitReader, BitWriter, ChunkCorruptError, ctz32, f64, HI, LO, signed, u32 } from './bit-stream.js';

export { ChunkCorruptError };

const FORMAT = 0x20;
const MODE_DECIMAL = 0;
const MODE_XOR = 1;
const HEADER_BITS = 24;

/** Width of the timestamp delta-of-delta field after 1, 2 or 3 leading one bits. */
const DOD_BITS = [0, 5, 14, 20] as const;
/** Width of the decimal difference field after 1..5 leading one bits. */
const DIFF_BITS = [0, 7, 14, 24, 40] as const;
const DIFF_WIDE = 5; // ones before a 64-bit difference
const DIFF_RESCALE = 6; // ones before a scale change

const MAX_SCALE = 10;
const POW10 = Array.from({ length: MAX_SCALE + 1 }, (_, k) => 10 ** k);
/** Bound on |m| so that differences of two m stay exact doubles (< 2^53). */
const M_LIMIT = 2 ** 52;

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** m with m / 10^k === v exactly (v itself for k = 0), or undefined when v is no such decimal. */
function decimalAt(v: number, k: number): number | undefined {
  if (k === 0) return Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) < M_LIMIT ? v : undefined;
  const p = POW10[k]!;
  const m = Math.round(v * p);
  // The decoder computes m / p; only a value that comes back bit for bit is stored this way.
  if (m / p !== v || Math.abs(m) >= M_LIMIT || Object.is(v, -0)) return undefined;
  return m;
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

/**
 * Encodes samples one at a time. Timestamps must increase strictly (the caller checks); the
 * encoder state is small so one per active series is cheap.
 */
export class ChunkEncoder {
  private w = new BitWriter(32);
  private mode = MODE_DECIMAL;
  private n = 0;
  private prevT = 0;
  private prevDelta = 0;
  private firstT = 0;
  // decimal state
  private scale = 0;
  private prevM = 0;
  // xor state
  private prevHi = 0;
  private prevLo = 0;
  private leading = 0xff;
  private trailing = 0;

  constructor() {
    this.w.write(0, HEADER_BITS); // format, mode and count: patched in bytes()
  }

  get count(): number {
    return this.n;
  }
  get minT(): number {
    return this.firstT;
  }
  get maxT(): number {
    return this.prevT;
  }

  append(t: number, v: number): void {
    if (this.mode === MODE_DECIMAL && !this.appendDecimal(t, v)) {
      // Not a short decimal: this chunk becomes xor from its first sample.
      const old = this.n > 0 ? decodeChunk(this.bytes()) : { t: [], v: [] };
      this.w = new BitWriter(64);
      this.w.write(0, HEADER_BITS);
      this.mode = MODE_XOR;
      this.n = 0;
      this.prevDelta = 0;
      for (let i = 0; i < old.t.length; i++) this.appendXor(old.t[i]!, old.v[i]!);
    }
    if (this.mode === MODE_XOR) this.appendXor(t, v);
  }

  private writeTimestamp(t: number): void {
    const w = this.w;
    if (this.n === 0) {
      w.writeInt64(t);
      this.firstT = t;
    } else {
      const delta = t - this.prevT;
      const dod = delta - this.prevDelta;
      if (dod === 0) {
        w.write(0, 1);
      } else {
        let ones = 1;
        for (; ones <= 3; ones++) {
          const half = 2 ** (DOD_BITS[ones]! - 1);
          if (dod >= -half && dod < half) break;
        }
        if (ones <= 3) {
          const bits = DOD_BITS[ones]!;
          w.write(((1 << ones) - 1) << 1, ones + 1);
          w.write(dod < 0 ? dod + 2 ** bits : dod, bits);
        } else {
          w.write(0b1111, 4);
          w.writeInt64(dod);
        }
      }
      this.prevDelta = delta;
    }
    this.prevT = t;
  }

  /** Appends in decimal mode; false (nothing written) when v cannot be coded so. */
  private appendDecimal(t: number, v: number): boolean {
    let m = decimalAt(v, this.scale);
    let newScale = this.scale;
    if (m === undefined) {
      for (let k = this.scale + 1; k <= MAX_SCALE && m === undefined; k++) {
        m = decimalAt(v, k);
        newScale = k;
      }
      if (m === undefined) return false;
      if (this.n > 0 && Math.abs(this.prevM * POW10[newScale - this.scale]!) >= M_LIMIT) return false;
    }
    this.writeTimestamp(t);
    const w = this.w;
    if (this.n === 0) {
      w.write(newScale, 4);
      w.writeInt64(m);
    } else {
      if (newScale !== this.scale) {
        w.write(0b111111, 6);
        w.write(newScale, 4);
        this.prevM *= POW10[newScale - this.scale]!;
      }
      this.writeDiff(m - this.prevM);
    }
    this.scale = newScale;
    this.prevM = m;
    this.n++;
    return true;
  }

  private writeDiff(d: number): void {
    const w = this.w;
    if (d === 0) {
      w.write(0, 1);
      return;
    }
    for (let ones = 1; ones < DIFF_WIDE; ones++) {
      const bits = DIFF_BITS[ones]!;
      const half = 2 ** (bits - 1);
      if (d >= -half && d < half) {
        w.write(((1 << ones) - 1) << 1, ones + 1);
        const u = d < 0 ? d + 2 ** bits : d;
        if (bits > 32) w.write64(Math.floor(u / 2 ** 32), u % 2 ** 32, bits);
        else w.write(u, bits);
        return;
      }
    }
    w.write(0b111110, 6);
    w.writeInt64(d);
  }

  private appendXor(t: number, v: number): void {
    this.writeTimestamp(t);
    f64[0] = v;
    const hi = u32[HI]!;
    const lo = u32[LO]!;
    const w = this.w;
    if (this.n === 0) {
      w.write(hi, 32);
      w.write(lo, 32);
    } else {
      const xh = (hi ^ this.prevHi) >>> 0;
      const xl = (lo ^ this.prevLo) >>> 0;
      if (xh === 0 && xl === 0) {
        w.write(0, 1);
      } else {
        let leading = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
        const trailing = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
        if (leading > 31) leading = 31; // 5 bits
        if (this.leading !== 0xff && leading >= this.leading && trailing >= this.trailing) {
          w.write(0b10, 2);
          this.writeMeaningful(xh, xl, this.trailing, 64 - this.leading - this.trailing);
        } else {
          this.leading = leading;
          this.trailing = trailing;
          const sig = 64 - leading - trailing;
          w.write(0b11, 2);
          w.write(leading, 5);
          w.write(sig & 63, 6); // 64 is stored as 0
          this.writeMeaningful(xh, xl, trailing, sig);
        }
      }
    }
    this.prevHi = hi;
    this.prevLo = lo;
    this.n++;
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
    b[0] = FORMAT | this.mode;
    b[1] = (this.n >>> 8) & 0xff;
    b[2] = this.n & 0xff;
    return b;
  }
}

/** The number of samples in a chunk, from its header. */
export function chunkCount(data: Uint8Array): number {
  if (data.length < 3 || (data[0]! & 0xf0) !== FORMAT) {
    throw new ChunkCorruptError(`chunk of ${data.length} bytes has no format-2 header`);
  }
  return (data[1]! << 8) | data[2]!;
}

/**
 * Decodes a chunk written by ChunkEncoder, appending to `out`. Throws ChunkCorruptError on a
 * truncated chunk or an unknown format.
 */
export function decodeChunk(data: Uint8Array, out: ChunkSamples = { t: [], v: [] }): ChunkSamples {
  const n = chunkCount(data);
  const mode = data[0]! & 0x0f;
  if (mode !== MODE_DECIMAL && mode !== MODE_XOR) throw new ChunkCorruptError(`chunk has unknown value mode ${mode}`);
  if (n === 0) return out;
  const r = new BitReader(data, HEADER_BITS);
  let t = r.readInt64();
  let delta = 0;
  const readTimestamp = (): void => {
    const ones = r.readOnes(4);
    const dod = ones === 0 ? 0 : ones === 4 ? r.readInt64() : signed(r.read(DOD_BITS[ones]!), DOD_BITS[ones]!);
    delta += dod;
    t += delta;
  };
  if (mode === MODE_DECIMAL) {
    let scale = r.read(4);
    let m = r.readInt64();
    out.t.push(t);
    out.v.push(scale === 0 ? m : m / POW10[scale]!);
    for (let i = 1; i < n; i++) {
      readTimestamp();
      let ones = r.readOnes(DIFF_RESCALE);
      if (ones === DIFF_RESCALE) {
        const next = r.read(4);
        if (next <= scale || next > MAX_SCALE) throw new ChunkCorruptError(`chunk rescales from ${scale} to ${next}`);
        m *= POW10[next - scale]!;
        scale = next;
        ones = r.readOnes(DIFF_RESCALE);
        if (ones === DIFF_RESCALE) throw new ChunkCorruptError('chunk rescales twice for one sample');
      }
      if (ones === DIFF_WIDE) {
        m += r.readInt64();
      } else if (ones > 0) {
        const bits = DIFF_BITS[ones]!;
        const u = bits > 32 ? r.read(bits - 32) * 2 ** 32 + r.read(32) : r.read(bits);
        m += signed(u, bits);
      }
      out.t.push(t);
      out.v.push(scale === 0 ? m : m / POW10[scale]!);
    }
    return out;
  }
  let hi = r.read(32);
  let lo = r.read(32);
  const push = (): void => {
    u32[HI] = hi;
    u32[LO] = lo;
    out.t.push(t);
    out.v.push(f64[0]!);
    if (hi === STALE_HI && lo === STALE_LO) (out.stale ??= new Set()).add(t);
  };
  push();
  let leading = 0;
  let trailing = 0;
  for (let i = 1; i < n; i++) {
    readTimestamp();
    if (r.readBit() === 1) {
      if (r.readBit() === 1) {
        leading = r.read(5);
        let sig = r.read(6);
        if (sig === 0) sig = 64;
        trailing = 64 - leading - sig;
      }
      const sig = 64 - leading - trailing;
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
    push();
  }
  return out;
}
