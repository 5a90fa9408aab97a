/**
 * `route`: an HTTP route to a service's named port. Applying it records it; the daemon's data
 * plane serves recorded routes (see proxy/). Nothing else to create.
 */
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject } from '../../model/resource.js';
import { diffByFields } from '../field-diff.js';
import type { DiffResult, KindContext, ReadResult, ResourceKind } from '../resource-kind.js';

export class RouteKind implements ResourceKind {
  readonly kind = 'route' as const;
  check(): Diagnostic[] { return []; }
  diff(old: JsonObject, next: JsonObject): DiffResult { return diffByFields(old, next, []); }
  async create(): Promise<JsonObject> { return {}; }
  async read(_ctx: KindContext, _a: Address, spec: JsonObject, outputs: JsonObject): Promise<ReadResult> {
    return { exists: true, spec, outputs, drift: [] };
  }
  async update(): Promise<JsonObject> { return {}; }
  async delete(): Promise<void> { /* nothing outside state */ }
}
