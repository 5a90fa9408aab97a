/**
 * The kind context of one apply or refresh: what its owner built (drivers, secrets, clock, ...),
 * plus what the kinds share with every step of the run (their `prepare`), plus the engine's own
 * parts (outputs of other resources, progress). The engine knows what is shared only by name.
 */
import type { Address, JsonObject, ResourceKindName } from '../model/resource.js';
import type { KindContext, KindContextBase, KindRegistry, PortPool, RunSetup } from '../kinds/resource-kind.js';

/** The pool of a registry in which no kind hands out ports: nothing to reserve, nothing to allocate. */
const NO_PORTS: PortPool = {
  reserve: () => undefined,
  release: () => undefined,
  isReserved: () => false,
  allocate: () =>
    Promise.reject(new Error('no resource kind of this registry hands out ports; register the service kind')),
};

export async function runContext(
  kinds: KindRegistry,
  base: KindContextBase,
  setup: RunSetup,
  own: { outputsOf(address: Address): JsonObject | undefined; progress(address: Address, message: string): void },
): Promise<KindContext> {
  let ports: { pool: PortPool; by: ResourceKindName } | undefined;
  for (const kind of Object.values(kinds)) {
    const shares = await kind.prepare?.(base, setup);
    if (!shares?.ports) continue;
    if (ports)
      throw new Error(
        `resource kinds ${ports.by} and ${kind.kind} both hand out ports; one pool per run: let one kind own them`,
      );
    ports = { pool: shares.ports, by: kind.kind };
  }
  return { ...base, ports: ports?.pool ?? NO_PORTS, ...own };
}
