/**
 * Configuration that lives only in state and is read by the daemon: alert rules, notification
 * channels and policy, maintenance windows. Applying one records it; the daemon's alerting
 * (core/alerting.ts) rebuilds itself from what is recorded after every change.
 */
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject, ResourceKindName } from '../../model/resource.js';
import { diffByFields } from '../../model/field-diff.js';
import type { DiffResult, KindContext, ReadResult, ResourceKind } from '../resource-kind.js';

export class RecordKind implements ResourceKind {
  constructor(readonly kind: ResourceKindName) {}
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
