/**
 * Chunk format 2, what metrics.db files of store format 2 hold: the store reads it only to migrate
 * such files to the current format (chunk.ts). Decoding only; the description of how it was written
 * stays for whoever must read an old file by hand.
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
import { BitReader, ChunkCorruptError, f64, HI, LO, signed, u32 } from './bit-stream.js';
import type { ChunkSamples } from './chunk.js';
import { readXorValue, xorStart } from './xor-values.js';

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

const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** The number of samples in a chunk, from its header. */
function chunkCountV2(data: Uint8Array): number {
  if (data.length < 3 || (data[0]! & 0xf0) !== FORMAT) {
    throw new ChunkCorruptError(`chunk of ${data.length} bytes has no format-2 header`);
  }
  return (data[1]! << 8) | data[2]!;
}

/**
 * Decodes a format-2 chunk, appending to `out`. Throws ChunkCorruptError on a
 * truncated chunk or an unknown format.
 */
export function decodeChunkV2(data: Uint8Array, out: ChunkSamples = { t: [], v: [] }): ChunkSamples {
  const n = chunkCountV2(data);
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
  const x = xorStart(r.read(32), r.read(32));
  const push = (): void => {
    u32[HI] = x.hi;
    u32[LO] = x.lo;
    out.t.push(t);
    out.v.push(f64[0]!);
    if (x.hi === STALE_HI && x.lo === STALE_LO) (out.stale ??= new Set()).add(t);
  };
  push();
  for (let i = 1; i < n; i++) {
    readTimestamp();
    readXorValue(r, x);
    push();
  }
  return out;
}
