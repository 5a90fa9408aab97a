/**
 * Thresholds both ways: a check goes down after `failures` consecutive failed runs and comes up
 * after `successes` consecutive good ones; from `pending` (no verdict yet) the same counts apply.
 * A target that alternates never reaches either count when both are above 1, so its state holds.
 * Pure: the runner feeds results in and persists what comes out.
 */
import type { CheckState } from './check-spec.js';

export interface ThresholdState {
  state: CheckState;
  /** Consecutive results of the current streak (successes when `streakOk`, else failures). */
  streak: number;
  streakOk: boolean;
}

export const INITIAL_THRESHOLD_STATE: ThresholdState = { state: 'pending', streak: 0, streakOk: true };

export function nextThresholdState(
  s: ThresholdState,
  ok: boolean,
  limits: { failures: number; successes: number },
): ThresholdState {
  const streak = s.streakOk === ok ? s.streak + 1 : 1;
  let state = s.state;
  if (ok && state !== 'up' && streak >= limits.successes) state = 'up';
  if (!ok && state !== 'down' && streak >= limits.failures) state = 'down';
  return { state, streak, streakOk: ok };
}
