import type { KindRegistry } from './resource-kind.js';
import { CheckKind } from './check/check-kind.js';
import { RecordKind } from './record/record-kind.js';
import { ServiceKind } from './service/service-kind.js';
import { VolumeKind } from './volume/volume-kind.js';

export type { KindRegistry };

export function defaultKinds(): KindRegistry {
  return {
    service: new ServiceKind(),
    volume: new VolumeKind(),
    route: new RecordKind('route'),
    listener: new RecordKind('listener'),
    'dns-zone': new RecordKind('dns-zone'),
    // A record set of another zone, name or type is another record: the plan says replace.
    'dns-record': new RecordKind('dns-record', ['zone', 'name', 'type']),
    channel: new RecordKind('channel'),
    'notify-policy': new RecordKind('notify-policy'),
    alert: new RecordKind('alert'),
    maintenance: new RecordKind('maintenance'),
    person: new RecordKind('person'),
    schedule: new RecordKind('schedule'),
    escalation: new RecordKind('escalation'),
    'oncall-policy': new RecordKind('oncall-policy'),
    check: new CheckKind(),
    scrape: new RecordKind('scrape'),
    metrics: new RecordKind('metrics'),
  };
}
