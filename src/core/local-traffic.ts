/**
 * Traffic without a daemon. The data plane runs in its own process (proxy/process/), so the CLI
 * can drive it too: around an operation that changes services, the CLI attaches to the stack's
 * data plane (started on demand), rollouts move traffic through it exactly as under the daemon
 * (drain before stop, canary weights), and afterwards it is left configured from state: the
 * stack's listeners and routes, every service's stable address, pools of the live instances.
 * Nobody probes instances between commands then; the data plane's passive ejection and retries
 * cover an instance that dies, until the next command or a daemon reconciles.
 *
 * A stack with no listener and no service address needs no data plane: one left running is
 * stopped.
 */
import { serviceOutputsOf } from '../kinds/service/service-spec.js';
import { RemoteDataPlane } from '../proxy/process/remote-data-plane.js';
import { errorMessage } from '../util/error-message.js';
import type { Installation } from './installation.js';
import { StackTraffic } from './traffic.js';

export class LocalTraffic {
  /** `warn`: where a user hears that traffic could not be moved (the CLI: stderr). */
  constructor(
    private readonly installation: Installation,
    private readonly warn: (message: string) => void = (m) => installation.logger.log('warn', m),
  ) {}

  /** Runs `fn` with the installation's traffic director on the data plane; reconciles it after. */
  async around<T>(fn: () => Promise<T>): Promise<T> {
    const inst = this.installation;
    // Attaching is cheap: the process is started only when there is something to serve.
    let plane: RemoteDataPlane;
    try {
      plane = (await RemoteDataPlane.attach({ launch: { stateDir: inst.stateDir }, logger: inst.logger })).plane;
    } catch (e) {
      this.warn(`no data plane, so traffic is not moved during this operation: ${errorMessage(e)}`);
      return fn();
    }
    const traffic = new StackTraffic(plane, inst.logger);
    try {
      await this.configure(traffic);
    } catch (e) {
      this.warn(`could not configure the data plane: ${errorMessage(e)}`);
    }
    inst.traffic = traffic;
    try {
      return await fn();
    } finally {
      inst.traffic = undefined;
      try {
        await this.configure(traffic);
        // A round trip on the same connection: every pool sent before it has been applied.
        await plane.refreshMetrics?.();
      } catch (e) {
        this.warn(`could not configure the data plane: ${errorMessage(e)}`);
      }
      if (await this.wanted()) await plane.detach();
      else await plane.close();
    }
  }

  /** Whether recorded state asks for a data plane: a listener, a DNS zone, or a service with a stable address. */
  private async wanted(): Promise<boolean> {
    return (await this.installation.store.resources.listResources()).some(
      (r) => r.kind === 'listener' || r.kind === 'dns-zone' || (r.kind === 'service' && serviceOutputsOf(r).address),
    );
  }

  /** Listeners, routes and addresses from state; each service's pools from its live instances. */
  private async configure(traffic: StackTraffic): Promise<void> {
    const rows = await this.installation.store.resources.listResources();
    const services = rows.filter((r) => r.kind === 'service');
    for (const r of services) {
      const outs = serviceOutputsOf(r);
      traffic.setServicePorts(r.address.slice('service.'.length), Object.keys(outs.address?.ports ?? {}));
    }
    await traffic.configure(rows);
    for (const r of services) {
      const outs = serviceOutputsOf(r);
      if (!outs.address) continue; // Swarm services are served by the cluster
      traffic.sync(
        r.address.slice('service.'.length),
        outs.instances.filter((i) => !i.gone),
      );
    }
  }
}
