/**
 * Configuration that lives only in state and is served from it: routes and listeners (the data
 * plane serves what is recorded, src/core/traffic.ts), DNS zones and records (src/dns), alert
 * rules, notification channels and policy, maintenance windows (src/core/alerting.ts). Applying
 * one records it; the part that serves it rebuilds itself from state after every change. Nothing
 * else to create, so delete only forgets it.
 */
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject, ResourceKindName } from '../../model/resource.js';
import { diffByFields } from '../../model/field-diff.js';
import type { DiffResult, KindContext, ReadResult, ResourceKind } from '../resource-kind.js';
import { jsonObjectShape, noOutputsShape, type NoOutputs } from '../shape.js';

/** The spec of each is the stack schema's part for it, checked by config; the kind records it as it is. */
const RECORD_SHAPES = { spec: jsonObjectShape('spec'), outputs: noOutputsShape };

export class RecordKind implements ResourceKind<JsonObject, NoOutputs> {
  readonly shapes = RECORD_SHAPES;
  /**
   * `replaceFields`: fields whose change makes it another thing, so the plan shows a replace (a
   * DNS record set of another zone, name or type).
   */
  constructor(
    readonly kind: ResourceKindName,
    private readonly replaceFields: readonly string[] = [],
  ) {}
  check(): Diagnostic[] {
    return [];
  }
  diff(old: JsonObject, next: JsonObject): DiffResult {
    return diffByFields(old, next, this.replaceFields);
  }
  async create(): Promise<NoOutputs> {
    return {};
  }
  async read(
    _ctx: KindContext,
    _a: Address,
    spec: JsonObject,
    outputs: NoOutputs,
  ): Promise<ReadResult<JsonObject, NoOutputs>> {
    return { exists: true, spec, outputs, drift: [] };
  }
  async update(): Promise<NoOutputs> {
    return {};
  }
  async delete(): Promise<void> {
    /* nothing outside state */
  }
}
