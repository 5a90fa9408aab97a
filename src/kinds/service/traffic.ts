/**
 * What the service kind needs from the data plane during a rollout: the contract, on the side
 * that uses it. The daemon implements it over its proxy; without a daemon there is no traffic to
 * direct and rollouts only replace instances.
 */
import type { Duration } from '../../util/duration.js';
import type { InstanceOutput } from './service-spec.js';
import type { AddressProtocol, ServiceAddress } from './service-address.js';

export interface InstanceTraffic {
  requests: number;
  /** 5xx answers plus requests that got no answer. */
  errors: number;
  /** Latency samples bucketed; compare two snapshots with `trafficDelta`. */
  latency: { bounds: number[]; counts: number[]; sum: number; count: number };
}

export interface TrafficDirector {
  /** Sets which instances of the service get traffic, with relative weights (0 = none). */
  route(service: string, backends: { instance: InstanceOutput; weight: number }[]): void;
  /** Waits until the instance has no in-flight requests (or the timeout). */
  drain(service: string, instance: InstanceOutput, timeout: Duration): Promise<void>;
  /** Cumulative traffic of one instance so far (as of the last `refresh`, when there is one). */
  traffic(service: string, instance: InstanceOutput): InstanceTraffic;
  /** Brings what `traffic` reads up to now, where it is a snapshot of another process's numbers. */
  refresh?(): Promise<void>;
  /** The rollout owns the service's pools until `release`. */
  claim(service: string): void;
  release(service: string): void;
  /**
   * Serves the service's stable address (a listener per port) from now on, balanced over
   * `instances` (the ones a step just left running and healthy) until readiness says otherwise.
   * Called when a step recorded the address, so callers created later in the same apply can
   * reach it.
   */
  expose(
    service: string,
    address: ServiceAddress,
    protocols: Record<string, AddressProtocol>,
    instances: InstanceOutput[],
  ): Promise<void>;
}
