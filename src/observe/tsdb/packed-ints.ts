/**
 * Integer sequences packed at a width chosen per sequence (frame of reference with exceptions, as
 * in PFOR), for chunk format 3 (chunk.ts). A chunk's timestamp steps and value differences mostly
 * fall in a narrow band (a ±5 ms scrape jitter, a counter growing by 0..49), so each costs the few
 * bits of that band's width instead of a variable-length prefix code's; a value outside the band
 * (a missed scrape, a counter reset) is an exception that costs the band's all-ones code plus a
 * varint. A sequence dominated by one value (a gauge that rarely changes) can also flag that value
 * with a single bit.
 *
 * Sequence layout: 1 bit `flagged`; when flagged, varint `common`; varint `base`; 6 bits `width`.
 * Then per value: when flagged, `0` for `common` or `1` followed by a code; otherwise a code. A
 * code is `width` bits: all ones (width > 0) is an exception followed by the value as a varint,
 * anything else is `base + code`. Width 0 means every coded value equals `base`.
 *
 * Varint: 6 bits L, then the L low bits of the zigzag form (0, -1, 1, -2, ... → 0, 1, 2, 3, ...).
 * Values are integers with |x| < 2^53 (JavaScript's exact integers).
 */
import { type BitReader, type BitWriter, TWO_32 } from './bit-stream.js';

function zigzag(x: number): number {
  return x >= 0 ? 2 * x : -2 * x - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Bits of the unsigned integer u (0 for 0). */
function bitLength(u: number): number {
  return u < TWO_32 ? 32 - Math.clz32(u) : 64 - Math.clz32(Math.floor(u / TWO_32));
}

/** The bits a varint of x takes. */
export function varintBits(x: number): number {
  return 6 + bitLength(zigzag(x));
}

export function writeVarint(w: BitWriter, x: number): void {
  const z = zigzag(x);
  const n = bitLength(z);
  w.write(n, 6);
  if (n > 32) w.write64(Math.floor(z / TWO_32), z % TWO_32, n);
  else w.write(z, n);
}

export function readVarint(r: BitReader): number {
  const n = r.read(6);
  const z = n > 32 ? r.read(n - 32) * TWO_32 + r.read(32) : r.read(n);
  return unzigzag(z);
}

/** How a sequence is packed: what planSequence found cheapest. */
export interface SequencePlan {
  flagged: boolean;
  common: number;
  base: number;
  width: number;
  /** The bits writeSequence will write. */
  bits: number;
}

/**
 * The cheapest packing of xs[0..n): flagged or not, and the band (base, width) that minimises
 * n × width + the exceptions' varints. `sorted` is scratch space of at least n numbers.
 */
export function planSequence(xs: ArrayLike<number>, n: number, sorted: Float64Array): SequencePlan {
  for (let i = 0; i < n; i++) sorted[i] = xs[i]!;
  const s = sorted.subarray(0, n).sort();
  const plain = planBand(s, 0, n);
  let best: SequencePlan = { flagged: false, common: 0, base: plain.base, width: plain.width, bits: 1 + plain.bits };
  // The most common value: the longest run of the sorted values.
  let common = 0;
  let commonCount = 0;
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && s[j] === s[i]) j++;
    if (j - i > commonCount) {
      commonCount = j - i;
      common = s[i]!;
    }
    i = j;
  }
  if (commonCount * 2 > n) {
    // Moved to the front of the scratch space, still sorted: the runs before and after the common value's.
    let k = 0;
    for (let i = 0; i < n; i++) if (s[i] !== common) s[k++] = s[i]!;
    const band = planBand(s, 0, k);
    const bits = 1 + varintBits(common) + n + band.bits;
    if (bits < best.bits) best = { flagged: true, common, base: band.base, width: band.width, bits };
  }
  return best;
}

/** Scratch for planBand; planning runs to completion, never interleaved. */
let uniq = new Float64Array(256);
let belowBits = new Float64Array(257);

/** The best band for the sorted values s[from..to): its header and codes, in bits. */
function planBand(s: Float64Array, from: number, to: number): { base: number; width: number; bits: number } {
  const n = to - from;
  if (n === 0) return { base: 0, width: 0, bits: varintBits(0) + 6 };
  const min = s[from]!;
  const max = s[to - 1]!;
  if (min === max) return { base: min, width: 0, bits: varintBits(min) + 6 };
  if (uniq.length < n) {
    uniq = new Float64Array(2 * n);
    belowBits = new Float64Array(2 * n + 1);
  }
  // The distinct values, and for each the varint bits of the values below it, to price
  // every window in O(1): a chunk's steps or differences take far fewer distinct values than n.
  let u = 0;
  let bitsSoFar = 0;
  for (let i = 0; i < n; i++) {
    const x = s[from + i]!;
    if (i === 0 || x !== s[from + i - 1]) {
      uniq[u] = x;
      belowBits[u] = bitsSoFar;
      u++;
    }
    bitsSoFar += varintBits(x);
  }
  belowBits[u] = bitsSoFar;
  let best = { base: min, width: 0, bits: Infinity };
  const fullWidth = bitLength(max - min + 1);
  for (let w = 1; w <= fullWidth; w++) {
    const span = 2 ** w - 2; // codes 0..2^w-2; all ones is the escape
    // Two pointers: for each window start i, j is one past the last distinct value within base + span.
    let j = 0;
    for (let i = 0; i < u; i++) {
      const base = uniq[i]!;
      if (j < i) j = i;
      while (j < u && uniq[j]! - base <= span) j++;
      const bits = varintBits(base) + 6 + n * w + belowBits[i]! + (bitsSoFar - belowBits[j]!);
      if (bits < best.bits) best = { base, width: w, bits };
      if (j === u) break; // later starts only lose values at the bottom
    }
  }
  return best;
}

/** Writes xs[0..n) as planned. */
export function writeSequence(w: BitWriter, xs: ArrayLike<number>, n: number, plan: SequencePlan): void {
  w.write(plan.flagged ? 1 : 0, 1);
  if (plan.flagged) writeVarint(w, plan.common);
  writeVarint(w, plan.base);
  w.write(plan.width, 6);
  const width = plan.width;
  const escape = 2 ** width - 1;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    if (plan.flagged) {
      if (x === plan.common) {
        w.write(0, 1);
        continue;
      }
      w.write(1, 1);
    }
    if (width === 0) continue;
    const code = x - plan.base;
    if (code >= 0 && code < escape) {
      if (width > 32) w.write64(Math.floor(code / TWO_32), code % TWO_32, width);
      else w.write(code, width);
    } else {
      if (width > 32) w.write64(Math.floor(escape / TWO_32), escape % TWO_32, width);
      else w.write(escape, width);
      writeVarint(w, x);
    }
  }
}

/** Reads a sequence of n values written by writeSequence into out[0..n). */
export function readSequence(r: BitReader, n: number, out: Float64Array): void {
  const flagged = r.read(1) === 1;
  const common = flagged ? readVarint(r) : 0;
  const base = readVarint(r);
  const width = r.read(6);
  const escape = 2 ** width - 1;
  for (let i = 0; i < n; i++) {
    if (flagged && r.readBit() === 0) {
      out[i] = common;
      continue;
    }
    if (width === 0) {
      out[i] = base;
      continue;
    }
    const code = width > 32 ? r.read(width - 32) * TWO_32 + r.read(32) : r.read(width);
    out[i] = code === escape ? readVarint(r) : base + code;
  }
}
