import type { KindRegistry } from './resource-kind.js';
import { checked, CheckedKind } from './checked-kind.js';
import { CheckKind } from './check/check-kind.js';
import { RecordKind } from './record/record-kind.js';
import { ServiceKind } from './service/service-kind.js';
import { VolumeKind } from './volume/volume-kind.js';

export type { KindRegistry };

/**
 * The built-in kinds, each behind its CheckedKind: the engine hands them JSON, they see their
 * own types, and what they return is checked before it is recorded.
 */
export function defaultKinds(): KindRegistry {
  return {
    service: checked(new ServiceKind()),
    volume: checked(new VolumeKind()),
    route: checked(new RecordKind('route')),
    listener: checked(new RecordKind('listener')),
    'dns-zone': checked(new RecordKind('dns-zone')),
    // A record set of another zone, name or type is another record: the plan says replace.
    'dns-record': checked(new RecordKind('dns-record', ['zone', 'name', 'type'])),
    channel: checked(new RecordKind('channel')),
    'notify-policy': checked(new RecordKind('notify-policy')),
    alert: checked(new RecordKind('alert')),
    maintenance: checked(new RecordKind('maintenance')),
    person: checked(new RecordKind('person')),
    schedule: checked(new RecordKind('schedule')),
    escalation: checked(new RecordKind('escalation')),
    'oncall-policy': checked(new RecordKind('oncall-policy')),
    check: checked(new CheckKind()),
    scrape: checked(new RecordKind('scrape')),
    metrics: checked(new RecordKind('metrics')),
  };
}

/**
 * The built-in service kind of a registry (the deployer, the supervisor and `down` call its
 * methods beyond the contract), or undefined when the registry holds another.
 */
export function tryServiceKind(kinds: KindRegistry): ServiceKind | undefined {
  const k = kinds.service;
  const inner = k instanceof CheckedKind ? k.inner : k;
  return inner instanceof ServiceKind ? inner : undefined;
}
