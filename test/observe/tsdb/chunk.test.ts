import { describe, expect, it } from 'vitest';
import { ChunkCorruptError, ChunkEncoder, decodeChunk } from '../../../src/observe/tsdb/chunk.js';

function roundTrip(t: number[], v: number[]): { t: number[]; v: number[]; stale?: Set<number>; bytes: number } {
  const enc = new ChunkEncoder();
  for (let i = 0; i < t.length; i++) enc.append(t[i]!, v[i]!);
  const data = enc.bytes();
  return { ...decodeChunk(data), bytes: data.length };
}

/** Bit-exact comparison: -0 and NaN payloads included. */
function bits(v: readonly number[]): string[] {
  return v.map((x) => {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, x);
    return b.getBigUint64(0).toString(16);
  });
}

/** A small deterministic generator so the cases are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const T0 = 1_700_000_000_000;

describe('chunk format 3', () => {
  it('round-trips every kind of value and timestamp step exactly, switching to xor for non-decimals', () => {
    const t = [
      T0,
      T0 + 15_000,
      T0 + 30_000,
      T0 + 45_003,
      T0 + 59_990,
      T0 + 59_991,
      T0 + 159_991,
      T0 + 10_000_000,
      1_800_000_000_000,
      1_800_000_000_001,
      1_800_000_000_002,
      1_800_000_000_003,
    ];
    const v = [0, 1, 1, -2.5, 0.125, 1e15, -0, NaN, Infinity, -Infinity, 5e-324, 0.1 + 0.2];
    const r = roundTrip(t, v);
    expect(r.t).toEqual(t);
    expect(bits(r.v)).toEqual(bits(v));
  });

  it('keeps decimals exact across scale changes and large integers', () => {
    const t = Array.from({ length: 9 }, (_, i) => T0 + i * 15_000);
    const v = [3, 4, 4.5, 4.25, 1e9 + 0.001, 2 ** 51, -(2 ** 51), 0.1, 1e-10];
    const r = roundTrip(t, v);
    expect(r.t).toEqual(t);
    expect(bits(r.v)).toEqual(bits(v));
  });

  it('keeps the staleness marker bit for bit', () => {
    const stale = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0]!;
    // Appended directly: a number[] holding the marker would canonicalize its NaN.
    const enc = new ChunkEncoder();
    enc.append(T0, 1.5);
    enc.append(T0 + 15_000, 2.5);
    enc.append(T0 + 30_000, stale);
    const r = decodeChunk(enc.bytes());
    expect([...(r.stale ?? [])]).toEqual([T0 + 30_000]);
    expect(r.v.slice(0, 2)).toEqual([1.5, 2.5]);
  });

  it('round-trips random walks, counters, tiny and arbitrary floats with jittered timestamps', () => {
    const rnd = lcg(42);
    for (let run = 0; run < 60; run++) {
      const t: number[] = [];
      const v: number[] = [];
      let ts = 1_600_000_000_000 + Math.floor(rnd() * 1e9);
      let x = rnd() * 1000;
      for (let i = 0; i < 120; i++) {
        ts += 15_000 + Math.floor((rnd() - 0.5) * (run % 3 === 0 ? 40 : 400_000)) + (run % 3 === 0 ? 0 : 200_001);
        x = run % 2 === 0 ? x + Math.floor(rnd() * 10) : Math.round((x + (rnd() - 0.5) * 3) * 100) / 100;
        t.push(ts);
        // Every sixth run turns arbitrary (not a short decimal) half-way through the chunk.
        v.push(run % 5 === 4 ? -x * 1e-7 : run % 6 === 5 && i > 60 ? x / 3 : x);
      }
      const r = roundTrip(t, v);
      expect(r.t).toEqual(t);
      expect(bits(r.v)).toEqual(bits(v));
    }
  });

  it('packs regular series in under a byte per sample and noisy jittered ones in about 1.4', () => {
    const rnd = lcg(7);
    const regularT: number[] = [];
    const jitteredT: number[] = [];
    const steady: number[] = [];
    const counter: number[] = [];
    const gauge: number[] = [];
    const pages: number[] = [];
    let g = 23.5;
    let c = 1000;
    let m = 4096 * 100_000;
    for (let i = 0; i < 240; i++) {
      regularT.push(T0 + i * 15_000);
      // A scraper on a schedule: ±5 ms around the grid, so the grid offsets need 4 bits.
      jitteredT.push(T0 + i * 15_000 + Math.round((rnd() - 0.5) * 10));
      steady.push(1000 + i * 7 + (i % 4));
      counter.push((c += Math.floor(rnd() * 50)));
      g = Math.round((g + (rnd() - 0.5)) * 100) / 100;
      gauge.push(g);
      if (rnd() < 0.2) m += 4096 * Math.floor((rnd() - 0.5) * 64);
      pages.push(m);
    }
    // Headers of both sequences (~20 bytes with the first timestamp and value), then per sample:
    // a regular timestamp 0 bits; steps of 7..10 in 2 bits.
    expect(roundTrip(regularT, steady).bytes).toBeLessThanOrEqual(20 + Math.ceil((239 * 2) / 8));
    // Jittered timestamps 4 bits; counter steps 0..49 in 6 bits.
    expect(roundTrip(jitteredT, counter).bytes).toBeLessThanOrEqual(20 + Math.ceil((239 * 10) / 8));
    // Gauge steps of ±0.50 in hundredths: 7 bits.
    const r = roundTrip(jitteredT, gauge);
    expect(r.bytes).toBeLessThanOrEqual(20 + Math.ceil((239 * 11) / 8));
    expect(r.v).toEqual(gauge);
    // Memory that changes in pages one scrape in five: a flag bit, and 6 bits for the page count when it moves.
    const p = roundTrip(regularT, pages);
    expect(p.bytes).toBeLessThanOrEqual(24 + Math.ceil((239 * (1 + 0.3 * 6)) / 8));
    expect(p.v).toEqual(pages);
  });

  it('codes a missed scrape or a counter reset as one exception, not a wider chunk', () => {
    const t = Array.from({ length: 240 }, (_, i) => T0 + i * 15_000 + (i >= 100 ? 15_000 : 0));
    const v = Array.from({ length: 240 }, (_, i) => (i < 150 ? 5000 + i * 3 : i * 3));
    const r = roundTrip(t, v);
    expect(r.t).toEqual(t);
    expect(r.v).toEqual(v);
    // Steps of 3 (width 1 or 2) and regular timestamps (a width-1 escape per sample): ~3 bits a sample.
    expect(r.bytes).toBeLessThanOrEqual(24 + 16 + Math.ceil((239 * 3) / 8));
  });

  it('rejects a truncated chunk and a foreign header with a named error', () => {
    const enc = new ChunkEncoder();
    for (let i = 0; i < 10; i++) enc.append(T0 + i * 1000, Math.sqrt(i));
    const data = enc.bytes();
    expect(() => decodeChunk(data.subarray(0, data.length - 6))).toThrow(ChunkCorruptError);
    expect(() => decodeChunk(new Uint8Array([0, 10, 1, 2, 3]))).toThrow(/format-3 header/);
  });
});
