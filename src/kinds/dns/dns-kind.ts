/**
 * `dns-zone` and `dns-record`: configuration of the lab's DNS server (src/dns). Applying one
 * records it in state; the server serves what state holds (`dnsSettingsFromState`), with the
 * service address records added. Nothing else to create, so delete, too, only forgets it.
 */
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject, ResourceKindName } from '../../model/resource.js';
import { diffByFields } from '../../model/field-diff.js';
import type { DiffResult, KindContext, ReadResult, ResourceKind } from '../resource-kind.js';

export class DnsConfigKind implements ResourceKind {
  constructor(readonly kind: Extract<ResourceKindName, 'dns-zone' | 'dns-record'>) {}
  check(): Diagnostic[] {
    return [];
  }
  diff(old: JsonObject, next: JsonObject): DiffResult {
    // A record set of another zone or name is another record: replace, so the plan says so.
    return diffByFields(old, next, this.kind === 'dns-record' ? ['zone', 'name', 'type'] : []);
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
