import type { KindRegistry } from './resource-kind.js';
import { CheckKind } from './check/check-kind.js';
import { DnsConfigKind } from './dns/dns-kind.js';
import { RecordKind } from './record/record-kind.js';
import { DataPlaneConfigKind } from './route/route-kind.js';
import { ServiceKind } from './service/service-kind.js';
import { VolumeKind } from './volume/volume-kind.js';

export type { KindRegistry };

export function defaultKinds(): KindRegistry {
  return {
    service: new ServiceKind(),
    volume: new VolumeKind(),
    route: new DataPlaneConfigKind('route'),
    listener: new DataPlaneConfigKind('listener'),
    'dns-zone': new DnsConfigKind('dns-zone'),
    'dns-record': new DnsConfigKind('dns-record'),
    channel: new RecordKind('channel'),
    'notify-policy': new RecordKind('notify-policy'),
    alert: new RecordKind('alert'),
    maintenance: new RecordKind('maintenance'),
    check: new CheckKind(),
  };
}
