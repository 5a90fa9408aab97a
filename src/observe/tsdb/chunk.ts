/**
 * Chunk format 3: a run of (timestamp, value) samples of one series, what a row of metrics.db holds.
 *
 * The encoder keeps the samples as they come and packs them when asked (a sealed chunk, or a flush
 * of a partial one), so each part is coded knowing the whole chunk: the timestamps and the values
 * are two integer sequences packed at the width that fits most of them (packed-ints.ts). Format 2
 * (chunk-v2.ts) chose a variable-length prefix per sample as Gorilla does; knowing the chunk saves
 * those prefixes: a ±5 ms jitter costs 4 bits a timestamp instead of 7, an exactly regular scrape 0.
 *
 * Timestamps, one of two ways, whichever is smaller for the chunk:
 * - steps: the n-1 differences t[i] - t[i-1] (a regular scrape's are all equal: width 0);
 * - grid: the n-1 offsets t[i] - (t[0] + i × interval) from a grid at the median step, which is
 *   how a scraper that fires on a schedule jitters (offsets within ±5 ms where steps vary ±10).
 * Values, one of two ways, chosen per chunk:
 * - decimal: every value is m / 10^k for integers m and k <= 10 (counters, bytes, 23.47 °C, CPU
 *   seconds from /proc in hundredths; the idea VictoriaMetrics uses): the chunk stores k, the first
 *   m, and the differences of successive m divided by their greatest common divisor (page-sized
 *   memory steps become small numbers);
 * - xor: Gorilla's XOR coding (xor-values.ts), for values that are not short decimals (NaN, the
 *   staleness marker, infinities, -0, results of division), bit for bit.
 *
 * Layout: byte 0 = 0x30 | mode (0 decimal, 1 xor), bytes 1-2 = sample count n (big-endian), then a
 * big-endian bit stream: varint t[0]; when n > 1: 1 bit grid, (grid: varint interval), a sequence
 * of n-1; then decimal: 4 bits k, varint m[0], when n > 1 varint divisor and a sequence of n-1;
 * or xor: the first value's 64 bits and n-1 XOR blocks. Varints and sequences: packed-ints.ts.
 */
import { BitReader, BitWriter, ChunkCorruptError, f64, HI, LO, u32 } from './bit-stream.js';
import { planSequence, readSequence, readVarint, varintBits, writeSequence, writeVarint } from './packed-ints.js';
import { readXorValue, writeXorValue, xorStart } from './xor-values.js';

export { ChunkCorruptError };

const FORMAT = 0x30;
const MODE_DECIMAL = 0;
const MODE_XOR = 1;
const HEADER_BITS = 24;

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

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
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

/** Scratch arrays for packing, shared by every encoder (packing runs to completion, never interleaved). */
let scratch = new Float64Array(256);
function scratchOf(n: number): Float64Array {
  if (scratch.length < 3 * n) scratch = new Float64Array(3 * n);
  return scratch;
}

/**
 * Collects the samples of one chunk and packs them on bytes(). Timestamps must increase strictly
 * (the caller checks). A head holds its samples unpacked: 16 bytes each until it is sealed.
 */
export class ChunkEncoder {
  private t: Float64Array;
  // A typed array, not number[]: V8 would canonicalize the staleness marker's NaN payload.
  private v: Float64Array;
  private n = 0;

  constructor(capacity = 16) {
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
  }

  get count(): number {
    return this.n;
  }
  get minT(): number {
    return this.t[0]!;
  }
  get maxT(): number {
    return this.t[this.n - 1]!;
  }

  append(t: number, v: number): void {
    if (this.n === this.t.length) {
      const nt = new Float64Array(this.n * 2);
      nt.set(this.t);
      this.t = nt;
      const nv = new Float64Array(this.n * 2);
      nv.set(this.v);
      this.v = nv;
    }
    this.t[this.n] = t;
    this.v[this.n] = v;
    this.n++;
  }

  /** The chunk packed from the samples so far (a new array, safe to store while appending continues). */
  bytes(): Uint8Array {
    const n = this.n;
    const w = new BitWriter(16 + n * 2);
    const work = scratchOf(n);
    const seq = work.subarray(0, n);
    const sorted = work.subarray(n, 2 * n);
    w.write(0, HEADER_BITS);
    const t = this.t;
    if (n > 0) writeVarint(w, t[0]!);
    if (n > 1) {
      for (let i = 1; i < n; i++) seq[i - 1] = t[i]! - t[i - 1]!;
      const steps = planSequence(seq, n - 1, sorted);
      // The grid's interval: the median step.
      const steps2 = work.subarray(2 * n, 3 * n);
      steps2.set(seq.subarray(0, n - 1));
      const interval = steps2.subarray(0, n - 1).sort()[(n - 1) >> 1]!;
      for (let i = 1; i < n; i++) steps2[i - 1] = t[i]! - t[0]! - i * interval;
      // An exactly regular series (steps of width 0) cannot do better on a grid.
      const grid = steps.width === 0 && !steps.flagged ? undefined : planSequence(steps2, n - 1, sorted);
      if (grid && grid.bits + varintBits(interval) < steps.bits) {
        w.write(1, 1);
        writeVarint(w, interval);
        writeSequence(w, steps2, n - 1, grid);
      } else {
        w.write(0, 1);
        writeSequence(w, seq, n - 1, steps);
      }
    }
    const mode = n > 0 && this.writeDecimal(w, seq, sorted) ? MODE_DECIMAL : MODE_XOR;
    if (mode === MODE_XOR && n > 0) {
      f64[0] = this.v[0]!;
      const x = xorStart(u32[HI]!, u32[LO]!);
      w.write(x.hi, 32);
      w.write(x.lo, 32);
      for (let i = 1; i < n; i++) writeXorValue(w, x, this.v[i]!);
    }
    const b = w.bytes().slice();
    b[0] = FORMAT | mode;
    b[1] = (n >>> 8) & 0xff;
    b[2] = n & 0xff;
    return b;
  }

  /** Writes the values as decimals when every one is; false (nothing written) when not. */
  private writeDecimal(w: BitWriter, seq: Float64Array, sorted: Float64Array): boolean {
    const n = this.n;
    const v = this.v;
    let scale = 0;
    for (let i = 0; i < n; i++) {
      let k = scale;
      while (k <= MAX_SCALE && decimalAt(v[i]!, k) === undefined) k++;
      if (k > MAX_SCALE) return false;
      scale = k;
    }
    // At the chunk's scale every value is exact too (the same decimal, a finer unit), unless m grows too big.
    let prev = 0;
    let first = 0;
    let divisor = 0;
    for (let i = 0; i < n; i++) {
      const m = decimalAt(v[i]!, scale);
      if (m === undefined) return false;
      if (i > 0) {
        seq[i - 1] = m - prev;
        divisor = gcd(divisor, Math.abs(m - prev));
      } else {
        first = m;
      }
      prev = m;
    }
    if (divisor === 0) divisor = 1;
    w.write(scale, 4);
    writeVarint(w, first);
    if (n > 1) {
      writeVarint(w, divisor);
      if (divisor !== 1) for (let i = 0; i < n - 1; i++) seq[i] = seq[i]! / divisor;
      writeSequence(w, seq, n - 1, planSequence(seq, n - 1, sorted));
    }
    return true;
  }
}

/** The number of samples in a chunk, from its header. */
export function chunkCount(data: Uint8Array): number {
  if (data.length < 3 || (data[0]! & 0xf0) !== FORMAT) {
    throw new ChunkCorruptError(`chunk of ${data.length} bytes has no format-3 header`);
  }
  return (data[1]! << 8) | data[2]!;
}

let decoded = new Float64Array(256);

/**
 * Decodes a chunk written by ChunkEncoder, appending to `out`. Throws ChunkCorruptError on a
 * truncated chunk or an unknown format.
 */
export function decodeChunk(data: Uint8Array, out: ChunkSamples = { t: [], v: [] }): ChunkSamples {
  const n = chunkCount(data);
  const mode = data[0]! & 0x0f;
  if (mode !== MODE_DECIMAL && mode !== MODE_XOR) throw new ChunkCorruptError(`chunk has unknown value mode ${mode}`);
  if (n === 0) return out;
  if (decoded.length < n) decoded = new Float64Array(Math.max(n, decoded.length * 2));
  const seq = decoded;
  const r = new BitReader(data, HEADER_BITS);
  const first = out.t.length;
  const ts = out.t;
  let t = readVarint(r);
  ts.push(t);
  if (n > 1) {
    const grid = r.readBit() === 1;
    const interval = grid ? readVarint(r) : 0;
    readSequence(r, n - 1, seq);
    if (grid) {
      const t0 = t;
      for (let i = 1; i < n; i++) ts.push(t0 + i * interval + seq[i - 1]!);
    } else {
      for (let i = 1; i < n; i++) ts.push((t += seq[i - 1]!));
    }
  }
  const vs = out.v;
  if (mode === MODE_DECIMAL) {
    const scale = r.read(4);
    if (scale > MAX_SCALE)
      throw new ChunkCorruptError(`chunk has decimal scale ${scale}, at most ${MAX_SCALE} is written`);
    const p = POW10[scale]!;
    let m = readVarint(r);
    vs.push(scale === 0 ? m : m / p);
    if (n > 1) {
      const divisor = readVarint(r);
      readSequence(r, n - 1, seq);
      if (scale === 0) for (let i = 0; i < n - 1; i++) vs.push((m += seq[i]! * divisor));
      else for (let i = 0; i < n - 1; i++) vs.push((m += seq[i]! * divisor) / p);
    }
    return out;
  }
  const x = xorStart(r.read(32), r.read(32));
  for (let i = 0; i < n; i++) {
    if (i > 0) readXorValue(r, x);
    u32[HI] = x.hi;
    u32[LO] = x.lo;
    vs.push(f64[0]!);
    if (x.hi === STALE_HI && x.lo === STALE_LO) (out.stale ??= new Set()).add(ts[first + i]!);
  }
  return out;
}
