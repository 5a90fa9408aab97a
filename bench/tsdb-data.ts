/**
 * The samples of the TSDB bench (tsdb.bench.ts) and of its storage breakdown (tsdb-breakdown.ts):
 * deterministic, so every run and both systems see the same values.
 */

export interface Dataset {
  series: Array<Record<string, string>>;
  /** Calls fn for every sample, series by series, in time order. */
  forEach(fn: (seriesIndex: number, t: number, v: number) => void): void;
  samples: number;
}

/** Deterministic pseudo-random numbers, so both systems and every run see the same samples. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function dataset(
  seriesCount: number,
  startMs: number,
  durationMs: number,
  intervalMs: number,
  jitterMs: number,
): Dataset {
  const series = Array.from({ length: seriesCount }, (_, i) =>
    i % 2 === 0 || seriesCount >= 1000
      ? { __name__: 'bench_requests_total', job: `job${i % 10}`, instance: `host${i}:9100` }
      : { __name__: 'bench_temperature_celsius', job: `job${i % 10}`, instance: `host${i}:9100` },
  );
  const steps = Math.floor(durationMs / intervalMs);
  return {
    series,
    samples: seriesCount * steps,
    forEach(fn) {
      series.forEach((s, i) => {
        const rnd = lcg(i + 1);
        const counter = s.__name__!.endsWith('_total');
        let v = counter ? Math.floor(rnd() * 1000) : 20 + rnd() * 10;
        for (let k = 0; k < steps; k++) {
          const t = startMs + k * intervalMs + Math.round((rnd() - 0.5) * 2 * jitterMs);
          v = counter ? v + Math.floor(rnd() * 50) : Math.round((v + (rnd() - 0.5)) * 100) / 100;
          fn(i, t, v);
        }
      });
    },
  };
}

/** Series shaped like a node exporter's: most values change little or not at all between scrapes. */
export function exporterDataset(seriesCount: number, startMs: number, durationMs: number, intervalMs: number): Dataset {
  const kinds = ['node_requests_total', 'node_memory_used_bytes', 'node_load1'] as const;
  const series = Array.from({ length: seriesCount }, (_, i) => ({
    __name__: kinds[i % 3]!,
    job: `job${i % 10}`,
    instance: `host${i}:9100`,
  }));
  const steps = Math.floor(durationMs / intervalMs);
  return {
    series,
    samples: seriesCount * steps,
    forEach(fn) {
      series.forEach((s, i) => {
        const rnd = lcg(1000 + i);
        let v = s.__name__ === 'node_memory_used_bytes' ? 4096 * Math.floor(rnd() * 1e6) : Math.floor(rnd() * 1000);
        if (s.__name__ === 'node_load1') v = Math.round(rnd() * 300) / 100;
        for (let k = 0; k < steps; k++) {
          const t = startMs + k * intervalMs + Math.round((rnd() - 0.5) * 4);
          const r = rnd();
          if (s.__name__ === 'node_requests_total') v += Math.floor(r * 21);
          else if (s.__name__ === 'node_memory_used_bytes') v += r < 0.2 ? 4096 * Math.floor((rnd() - 0.5) * 64) : 0;
          else v = Math.max(0, Math.round((v + (r - 0.5) * 0.1) * 100) / 100);
          fn(i, t, v);
        }
      });
    },
  };
}
