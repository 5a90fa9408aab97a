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

describe('chunk format 2', () => {
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

  it('stores regular series in about a byte per sample and noisy jittered ones in about 2', () => {
    const rnd = lcg(7);
    const regularT: number[] = [];
    const jitteredT: number[] = [];
    const steady: number[] = [];
    const counter: number[] = [];
    const gauge: number[] = [];
    let g = 23.5;
    for (let i = 0; i < 120; i++) {
      regularT.push(T0 + i * 15_000);
      jitteredT.push(T0 + i * 15_000 + Math.round((rnd() - 0.5) * 6));
      steady.push(1000 + i * 7 + (i % 4));
      counter.push(1000 + i * 7 + Math.floor(rnd() * 50));
      g = Math.round((g + (rnd() - 0.5)) * 100) / 100;
      gauge.push(g);
    }
    // 120 samples: a 20-byte header, the first interval (24 bits), then 1 timestamp bit and 9 value bits each.
    expect(roundTrip(regularT, steady).bytes).toBeLessThanOrEqual(20 + Math.ceil((24 + 119 * 10) / 8));
    // ±3 ms of jitter (delta-of-delta within ±16) costs 7 bits a timestamp; a difference within ±64 costs 9 bits.
    expect(roundTrip(jitteredT, counter).bytes).toBeLessThanOrEqual(20 + Math.ceil((24 + 119 * 16) / 8));
    const r = roundTrip(jitteredT, gauge);
    // 23.5 has one decimal, its successors two: one scale change (10 bits) on the way.
    expect(r.bytes).toBeLessThanOrEqual(20 + Math.ceil((24 + 119 * 16 + 10) / 8));
    expect(r.v).toEqual(gauge);
  });

  it('rejects a truncated chunk and a foreign header with a named error', () => {
    const enc = new ChunkEncoder();
    for (let i = 0; i < 10; i++) enc.append(T0 + i * 1000, Math.sqrt(i));
    const data = enc.bytes();
    expect(() => decodeChunk(data.subarray(0, data.length - 6))).toThrow(ChunkCorruptError);
    expect(() => decodeChunk(new Uint8Array([0, 10, 1, 2, 3]))).toThrow(/format-2 header/);
  });
});
