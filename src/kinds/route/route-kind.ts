/**
 * `route` and `listener`: configuration of the daemon's data plane. Applying one records it; the
 * daemon's proxy serves what is recorded (see proxy/). Nothing else to create.
 */
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject, ResourceKindName } from '../../model/resource.js';
import { diffByFields } from '../../model/field-diff.js';
import type { DiffResult, KindContext, ReadResult, ResourceKind } from '../resource-kind.js';

export class DataPlaneConfigKind implements ResourceKind {
  constructor(readonly kind: Extract<ResourceKindName, 'route' | 'listener'>) {}
  check(): Diagnostic[] {
    return [];
  }
  diff(old: JsonObject, next: JsonObject): DiffResult {
    return diffByFields(old, next, []);
  }
  async create(): Promise<JsonObject> {
    return {};
  }
  async read(_ctx: KindContext, _a: Address, spec: JsonObject, outputs: JsonObject): Promise<ReadResult> {
    return { exists: true, spec, outputs, drift: [] };
  }
  async update(): Promise<JsonObject> {
    return {};
  }
  async delete(): Promise<void> {
    /* nothing outside state */
  }
}
