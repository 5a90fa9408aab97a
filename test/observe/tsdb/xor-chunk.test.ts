import { describe, expect, it } from 'vitest';
import { ChunkCorruptError, decodeXorChunk, XorChunkEncoder } from '../../../src/observe/tsdb/xor-chunk.js';

function roundTrip(t: number[], v: number[]): { t: number[]; v: number[]; bytes: number } {
  const enc = new XorChunkEncoder();
  for (let i = 0; i < t.length; i++) enc.append(t[i]!, v[i]!);
  const data = enc.bytes();
  return { ...decodeXorChunk(data), bytes: data.length };
}

/** A small deterministic generator so the cases are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('XOR chunk', () => {
  it('round-trips every kind of value and timestamp step exactly', () => {
    const t = [
      1_700_000_000_000, 1_700_000_015_000, 1_700_000_030_000, 1_700_000_045_003, 1_700_000_059_990, 1_700_000_059_991,
      1_700_000_159_991, 1_700_010_000_000, 1_800_000_000_000, 1_800_000_000_001,
    ];
    const v = [0, 1, 1, -2.5, NaN, Infinity, -Infinity, 1e300, 5e-324, 0.1 + 0.2];
    const r = roundTrip(t, v);
    expect(r.t).toEqual(t);
    expect(r.v.map((x) => Object.is(x, NaN) || x)).toEqual(v.map((x) => Object.is(x, NaN) || x));
  });

  it('round-trips random walks, counters and jittered timestamps', () => {
    const rnd = lcg(42);
    for (let run = 0; run < 50; run++) {
      const t: number[] = [];
      const v: number[] = [];
      let ts = 1_600_000_000_000 + Math.floor(rnd() * 1e9);
      let x = rnd() * 1000;
      for (let i = 0; i < 120; i++) {
        ts += 15_000 + Math.floor((rnd() - 0.5) * (run % 3 === 0 ? 40 : 400_000)) + (run % 3 === 0 ? 0 : 200_001);
        x = run % 2 === 0 ? x + Math.floor(rnd() * 10) : Math.round((x + (rnd() - 0.5) * 3) * 100) / 100;
        t.push(ts);
        v.push(run % 5 === 4 ? -x * 1e-7 : x);
      }
      const r = roundTrip(t, v);
      expect(r.t).toEqual(t);
      expect(r.v).toEqual(v);
    }
  });

  it('stores a regular counter in well under 2 bytes per sample', () => {
    const t: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < 120; i++) {
      t.push(1_700_000_000_000 + i * 15_000);
      v.push(1000 + i * 7);
    }
    expect(roundTrip(t, v).bytes / 120).toBeLessThan(2);
  });

  it('rejects a truncated chunk with a named error', () => {
    const enc = new XorChunkEncoder();
    for (let i = 0; i < 10; i++) enc.append(i * 1000, Math.sqrt(i));
    const data = enc.bytes();
    expect(() => decodeXorChunk(data.subarray(0, data.length - 6))).toThrow(ChunkCorruptError);
  });
});
