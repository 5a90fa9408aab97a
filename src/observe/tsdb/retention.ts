/**
 * How long data is kept, at which resolution, and in how many bytes at most.
 * Raw samples age into 1-minute rollups, those into 1-hour rollups, those out of the store; the
 * byte bound then drops the oldest chunks, whatever their resolution, until the store fits.
 */

/** One resolution level: samples at most one per `stepMs` (0: raw), kept for `retainMs`. */
export interface ResolutionLevel {
  stepMs: number;
  retainMs: number;
}

export interface RetentionPolicy {
  /** Finest first; the first must be raw (stepMs 0). Default: raw 2 days, 1 min 30 days, 1 h 2 years. */
  levels: readonly ResolutionLevel[];
  /**
   * Bound on the store's size in bytes (database pages in use, after each maintenance pass).
   * Default: none.
   */
  maxBytes?: number;
}

const DAY = 86_400_000;

export const DEFAULT_RETENTION: RetentionPolicy = {
  levels: [
    { stepMs: 0, retainMs: 2 * DAY },
    { stepMs: 60_000, retainMs: 30 * DAY },
    { stepMs: 3_600_000, retainMs: 730 * DAY },
  ],
};

/** Every problem with a policy, each saying how to fix it; empty when valid. */
export function validateRetention(p: RetentionPolicy): string[] {
  const problems: string[] = [];
  if (p.levels.length === 0 || p.levels[0]!.stepMs !== 0) {
    problems.push('retention: the first level must be raw (stepMs 0); add { stepMs: 0, retainMs: ... } first');
  }
  for (let i = 1; i < p.levels.length; i++) {
    const prev = p.levels[i - 1]!;
    const cur = p.levels[i]!;
    if (cur.stepMs <= prev.stepMs) {
      problems.push(
        `retention: level ${i} step ${cur.stepMs} ms must be coarser than level ${i - 1}'s ${prev.stepMs} ms`,
      );
    }
    if (cur.retainMs < prev.retainMs) {
      problems.push(
        `retention: level ${i} keeps ${cur.retainMs} ms, less than the finer level ${i - 1} (${prev.retainMs} ms)`,
      );
    }
  }
  if (p.maxBytes !== undefined && !(p.maxBytes > 0)) {
    problems.push(`retention: maxBytes ${p.maxBytes} must be a positive number of bytes`);
  }
  return problems;
}
