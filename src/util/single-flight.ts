/**
 * A periodic job that does I/O must not overlap itself: a timer tick while the previous run still
 * waits on the store would interleave two read-modify-write passes. `singleFlight` runs the job at
 * most once at a time; a trigger during a run asks for exactly one more run after it.
 */
export interface SingleFlight {
  /** Starts a run, or books one more after the current run. Never throws; failures go to `onError`. */
  trigger(): void;
  /** Resolves when no run is in progress or booked (shutdown, tests). */
  idle(): Promise<void>;
}

export function singleFlight(job: () => Promise<void>, onError: (err: unknown) => void): SingleFlight {
  let running: Promise<void> | undefined;
  let again = false;
  const start = (): void => {
    running = (async () => {
      do {
        again = false;
        try {
          await job();
        } catch (err) {
          onError(err);
        }
      } while (again);
    })().finally(() => {
      running = undefined;
    });
  };
  return {
    trigger() {
      if (running) again = true;
      else start();
    },
    async idle() {
      while (running) await running;
    },
  };
}
