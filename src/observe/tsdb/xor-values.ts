/**
 * Gorilla's XOR value coding, shared by every chunk format (xor-chunk.ts, chunk-v2.ts, chunk.ts).
 *
 * Each value after the first is XORed with the previous one: `0` same value; `10` + the XOR's
 * meaningful bits within the previous leading/trailing-zero window; `11` + 5 bits leading zeros +
 * 6 bits meaningful length (0 means 64) + the bits. Values travel as the two 32-bit halves of
 * their float64 so NaN payloads (Prometheus's staleness marker) survive bit for bit.
 */
import { type BitReader, type BitWriter, ctz32, f64, HI, LO, u32 } from './bit-stream.js';

/** The previous value and the last meaningful-bits window: the state both sides keep. */
export interface XorState {
  hi: number;
  lo: number;
  leading: number;
  trailing: number;
}

/** A state before the first value: no window yet (leading 0xff never matches). */
export function xorStart(hi: number, lo: number): XorState {
  return { hi, lo, leading: 0xff, trailing: 0 };
}

/** Writes the XOR block of `v` against the state's previous value and advances the state. */
export function writeXorValue(w: BitWriter, s: XorState, v: number): void {
  f64[0] = v;
  const hi = u32[HI]!;
  const lo = u32[LO]!;
  const xh = (hi ^ s.hi) >>> 0;
  const xl = (lo ^ s.lo) >>> 0;
  s.hi = hi;
  s.lo = lo;
  if (xh === 0 && xl === 0) {
    w.write(0, 1);
    return;
  }
  let leading = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
  const trailing = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
  if (leading > 31) leading = 31; // 5 bits
  if (s.leading !== 0xff && leading >= s.leading && trailing >= s.trailing) {
    w.write(0b10, 2);
    writeMeaningful(w, xh, xl, s.trailing, 64 - s.leading - s.trailing);
    return;
  }
  s.leading = leading;
  s.trailing = trailing;
  const sig = 64 - leading - trailing;
  w.write(0b11, 2);
  w.write(leading, 5);
  w.write(sig & 63, 6); // 64 is stored as 0
  writeMeaningful(w, xh, xl, trailing, sig);
}

function writeMeaningful(w: BitWriter, xh: number, xl: number, trailing: number, sig: number): void {
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
  w.write64(h, l, sig);
}

/**
 * Reads one XOR block and advances the state to the value it codes (in s.hi, s.lo).
 * The window read from a `11` block stays in the state for the `10` blocks after it.
 */
export function readXorValue(r: BitReader, s: XorState): void {
  if (r.readBit() === 0) return;
  if (r.readBit() === 1) {
    s.leading = r.read(5);
    let sig = r.read(6);
    if (sig === 0) sig = 64;
    s.trailing = 64 - s.leading - sig;
  }
  const trailing = s.trailing;
  const sig = 64 - s.leading - trailing;
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
  s.hi = (s.hi ^ xh) >>> 0;
  s.lo = (s.lo ^ xl) >>> 0;
}
