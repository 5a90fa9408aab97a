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
import { BitReader, BitWriter, ChunkCorruptError, f64, HI, LO, signed, u32 } from './bit-stream.js';
import { readXorValue, writeXorValue, xorStart } from './xor-values.js';

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
  private xor = xorStart(0, 0);
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
    const w = this.w;
    if (this.n === 0) {
      w.writeInt64(t);
      f64[0] = v;
      w.write(u32[HI]!, 32);
      w.write(u32[LO]!, 32);
      this.xor = xorStart(u32[HI]!, u32[LO]!);
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
      writeXorValue(w, this.xor, v);
    }
    this.prevT = t;
    this.lastT = t;
    this.n++;
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
  const x = xorStart(r.read(32), r.read(32));
  const push = (): void => {
    u32[HI] = x.hi;
    u32[LO] = x.lo;
    out.t.push(t);
    out.v.push(f64[0]!);
    if (x.hi === STALE_HI && x.lo === STALE_LO) (out.stale ??= new Set()).add(t);
  };
  push();
  let delta = 0;
  for (let i = 1; i < n; i++) {
    // The bucket is the number of leading one bits (at most 4) of the timestamp field.
    const ones = r.readOnes(4);
    const dod = ones === 0 ? 0 : ones === 4 ? r.readInt64() : signed(r.read(DOD_BITS[ones]!), DOD_BITS[ones]!);
    delta += dod;
    t += delta;
    readXorValue(r, x);
    push();
  }
  return out;
}
