import type { KindRegistry } from './resource-kind.js';
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
  };
}
