/**
 * When to restart an exited instance: exponential backoff with jitter, and crash-loop
 * detection (too many restarts in a window). Pure; time comes in as numbers from a Clock.
 */
import type { RestartPolicy } from '../config/schema.js';
import { Duration } from '../util/duration.js';

export interface BackoffSettings {
  /** First retry delay; doubles per consecutive failure. */
  initial: Duration;
  max: Duration;
  /** Restarts within `window` that make a crash loop. */
  crashLoopRestarts: number;
  window: Duration;
  /** Delay between attempts while in a crash loop. */
  crashLoopDelay: Duration;
  /** An instance that ran this long resets the backoff. */
  stableAfter: Duration;
  /** 0..1: the delay is multiplied by 1 ± jitter/2 so restarts of many instances spread out. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = {
  initial: Duration.milliseconds(0),
  max: Duration.seconds(30),
  crashLoopRestarts: 5,
  window: Duration.seconds(60),
  crashLoopDelay: Duration.seconds(60),
  stableAfter: Duration.seconds(30),
  jitter: 0.2,
};

export type RestartDecision =
  { restart: false; reason: string } | { restart: true; delay: Duration; crashLoop: boolean; reason: string };

export class RestartTracker {
  private restarts: number[] = [];
  private consecutive = 0;

  constructor(
    private readonly settings: BackoffSettings = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  get inCrashLoop(): boolean {
    return this.restarts.length >= this.settings.crashLoopRestarts;
  }

  /** Decide after an exit at `now` of an instance that ran for `ranMs`. */
  decide(policy: RestartPolicy, exitCode: number | null, now: number, ranMs: number): RestartDecision {
    if (policy === 'never') return { restart: false, reason: 'restart policy is never' };
    if (policy === 'on-failure' && exitCode === 0)
      return { restart: false, reason: 'exited with code 0 and restart policy is on-failure' };
    if (ranMs >= this.settings.stableAfter.toMilliseconds()) this.consecutive = 0;
    this.restarts = this.restarts.filter((t) => now - t < this.settings.window.toMilliseconds());
    this.restarts.push(now);
    this.consecutive++;
    const crashLoop = this.restarts.length >= this.settings.crashLoopRestarts;
    const base =
      this.settings.initial.toMilliseconds() === 0 && this.consecutive === 1
        ? 0
        : Math.min(
            this.settings.max.toMilliseconds(),
            Math.max(200, this.settings.initial.toMilliseconds()) * 2 ** (this.consecutive - 1),
          );
    const raw = crashLoop ? Math.max(base, this.settings.crashLoopDelay.toMilliseconds()) : base;
    const jittered = raw * (1 + (this.random() - 0.5) * this.settings.jitter);
    return {
      restart: true,
      crashLoop,
      delay: Duration.milliseconds(Math.round(jittered)),
      reason: crashLoop
        ? `${this.restarts.length} restarts in ${this.settings.window}: crash loop, next try in ${Duration.milliseconds(Math.round(jittered))}`
        : `restart #${this.consecutive}`,
    };
  }

  reset(): void {
    this.restarts = [];
    this.consecutive = 0;
  }
}
