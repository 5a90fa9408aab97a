/**
 * Choosing a backend of a pool for one request.
 *
 * - round-robin: nginx's smooth weighted round-robin. Every pick adds each candidate's weight
 *   to its running score, takes the highest score and subtracts the total weight from it, so
 *   weights 5:1:1 give a a b a c a a rather than a a a a a b c. Equal weights give plain
 *   rotation.
 * - least-connections: the fewest in-flight requests relative to weight (in-flight ÷ weight);
 *   ties are broken by the same smooth round-robin, so an idle pool still spreads evenly.
 *
 * Candidates are the backends that can take new traffic (in the pool, not draining, weight
 * above 0, not ejected) and that this request has not tried yet.
 */
import type { Balance } from '../data-plane.js';
import type { BackendState } from './pool.js';

export function pickBackend(
  backends: readonly BackendState[],
  balance: Balance,
  now: number,
  tried: readonly BackendState[] | null,
): BackendState | undefined {
  return balance === 'least-connections'
    ? leastConnections(backends, now, tried)
    : smoothRoundRobin(backends, now, tried, -1);
}

function isCandidate(b: BackendState, now: number, tried: readonly BackendState[] | null): boolean {
  return b.acceptsTraffic(now) && (tried === null || !tried.includes(b));
}

/** `onlyLoad` >= 0 restricts the choice to backends whose load mark equals it (least-connections ties). */
function smoothRoundRobin(
  backends: readonly BackendState[],
  now: number,
  tried: readonly BackendState[] | null,
  onlyLoad: number,
): BackendState | undefined {
  let best: BackendState | undefined;
  let total = 0;
  for (let i = 0; i < backends.length; i++) {
    const b = backends[i] as BackendState;
    if (!isCandidate(b, now, tried) || (onlyLoad >= 0 && b.loadMark !== onlyLoad)) continue;
    b.currentWeight += b.weight;
    total += b.weight;
    if (best === undefined || b.currentWeight > best.currentWeight) best = b;
  }
  if (best) best.currentWeight -= total;
  return best;
}

function leastConnections(
  backends: readonly BackendState[],
  now: number,
  tried: readonly BackendState[] | null,
): BackendState | undefined {
  let best: BackendState | undefined;
  let ties = 0;
  for (let i = 0; i < backends.length; i++) {
    const b = backends[i] as BackendState;
    b.loadMark = 0;
    if (!isCandidate(b, now, tried)) continue;
    // a.inFlight / a.weight < b.inFlight / b.weight, without division.
    if (best === undefined || b.inFlight * best.weight < best.inFlight * b.weight) {
      best = b;
      ties = 1;
    } else if (b.inFlight * best.weight === best.inFlight * b.weight) {
      ties++;
    }
  }
  if (best === undefined || ties === 1) return best;
  const lead = best;
  for (let i = 0; i < backends.length; i++) {
    const b = backends[i] as BackendState;
    if (isCandidate(b, now, tried) && b.inFlight * lead.weight === lead.inFlight * b.weight) b.loadMark = 1;
  }
  return smoothRoundRobin(backends, now, tried, 1);
}
