/**
 * The DataPlane of a data-plane process (main.ts), driven over its control socket: what the
 * daemon uses, so traffic outlives the daemon. StackTraffic and the rollouts see the same
 * interface as with an in-process NodeProxy.
 *
 *   const plane = await RemoteDataPlane.attach({ launch: { stateDir }, logger });
 *   // adopted a running data plane (its configuration read back with get-config), or none ran
 *   await plane.setListeners([...]);   // starts the process when there is something to serve
 *   ...
 *   await plane.detach();              // the daemon stops: the data plane keeps serving
 *   await plane.close();               // `groundwork down`: the data plane stops
 *
 * - It keeps the configuration it was given (listeners, routes, pools, drained backends). When
 *   the process dies the client starts a new one (backoff 100 ms doubling to 5 s while it keeps
 *   dying) and pushes that configuration again; what was in flight in the dead one is lost.
 * - A running process of another version (another build) is replaced at `attach`: its
 *   configuration is read, it is shut down, a new one starts and gets it. Between the two,
 *   its listeners are closed: connections are refused for the start-up time (~100-300 ms).
 * - `setRoutes`/`setPool` are synchronous like the interface: checked here with the proxy's
 *   own rules (so a mistake throws at the caller), then sent without waiting. Requests on the
 *   socket are handled in order, so a later `drain` or `refreshMetrics` sees them applied.
 * - `metrics()` is a snapshot refreshed every `metricsEvery` (250 ms) while someone reads it;
 *   `refreshMetrics()` asks the process and resolves with numbers as of now. Counters go on
 *   across a replaced process (dead, hung, another version): the client adds the totals of the
 *   ones that are gone (carried-metrics.ts), so no counter ever goes down while it runs.
 * - A process that is alive but does not answer (hung: a blocked event loop, SIGSTOP) is found
 *   by a `hello` every `liveness.every` (5 s); after `liveness.misses` (3) unanswered in a row
 *   it is killed and started again like a dead one. A miss only counts when our own timer fired
 *   on time and nothing at all came from the process since the hello went out (read after the
 *   deadline, once the socket had its turn), so a daemon whose event loop was blocked does not
 *   blame the data plane.
 */
import type {
  DnsService,
  AccessLog,
  Backend,
  DataPlane,
  DataPlaneMetrics,
  HttpRoute,
  Listener,
} from '../data-plane.js';
import { validatePool } from '../node/pool.js';
import { validateRoutes } from '../node/router.js';
import { systemClock, type Timer, type Timers } from '../../util/clock.js';
import { Duration } from '../../util/duration.js';
import { errorMessage } from '../../util/error-message.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import { countersOf, pruneCarried, withCarried } from './carried-metrics.js';
import { ControlConnection } from './control-client.js';
import {
  defaultEntry,
  killDataPlane,
  readPidFile,
  socketPathOf,
  spawnDataPlane,
  stopDataPlane,
  waitForExit,
  type DataPlaneLaunch,
} from './launcher.js';
import {
  fromWireListener,
  fromWireRoute,
  PROTOCOL,
  toWireListener,
  toWireRoute,
  type Addresses,
  type Hello,
} from './protocol.js';
import { dataPlaneVersion } from './version.js';

export interface RemoteDataPlaneOptions {
  launch: DataPlaneLaunch;
  /** Adoption, restarts, failures. Default silent. */
  logger?: Logger;
  /** Receives the process's access log entries (it sends them only while someone listens). */
  accessLog?: AccessLog;
  /** Default the system clock. */
  timers?: Timers;
  /** How often `metrics()`'s snapshot is refreshed while it is read. Default 250 ms. */
  metricsEvery?: Duration;
  /** How a hung process is found: a `hello` every `every`, killed after `misses` unanswered in a row. */
  liveness?: { every: Duration; misses: number };
}

/** What `attach` found. */
export type Attachment =
  | { kind: 'adopted'; hello: Hello; listeners: number; routes: number; pools: number }
  | { kind: 'replaced'; old: Hello; hello: Hello }
  | { kind: 'none' };

const EMPTY_METRICS: DataPlaneMetrics = { routes: {}, backends: {}, listeners: {} };
const MAX_BACKOFF_MS = 5000;
/** A process that ran this long before dying restarts without waiting. */
const HEALTHY_RUN_MS = 10_000;

export class RemoteDataPlane implements DataPlane {
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly socketPath: string;
  private readonly version: string;
  private conn: ControlConnection | undefined;
  private connecting: Promise<ControlConnection | undefined> | undefined;
  private listeners: Listener[] = [];
  private routes: HttpRoute[] = [];
  private readonly pools = new Map<string, Backend[]>();
  private readonly drained = new Set<string>();
  private addresses: Addresses = {};
  private dns: DnsService | null = null;
  private snapshot: DataPlaneMetrics = EMPTY_METRICS;
  /** Counters of the processes this client replaced, added to the live one's (carried-metrics.ts). */
  private carried: DataPlaneMetrics = EMPTY_METRICS;
  private lastRead = -Infinity;
  private refreshing: Promise<DataPlaneMetrics> | undefined;
  private readonly ticker: Timer;
  private readonly livenessTicker: Timer;
  private probing = false;
  private misses = 0;
  private ended = false;
  private restartTimer: Timer | undefined;
  private failures = 0;
  private connectedAt = 0;
  /** The pid of the process this client talks to (undefined while none). */
  pid: number | undefined;
  /** How many times a lost data plane was started again. */
  restarts = 0;
  /** How many hung processes were killed (each then counts as a restart). */
  hangKills = 0;

  constructor(private readonly options: RemoteDataPlaneOptions) {
    this.logger = options.logger ?? silentLogger;
    this.timers = options.timers ?? systemClock;
    this.socketPath = socketPathOf(options.launch.stateDir);
    this.version = dataPlaneVersion(options.launch.entry ?? defaultEntry());
    this.ticker = this.timers.setInterval(
      () => {
        if (this.conn && this.timers.ms() - this.lastRead < 5000) void this.refreshMetrics().catch(() => undefined);
      },
      (options.metricsEvery ?? Duration.milliseconds(250)).toMilliseconds(),
      { background: true },
    );
    this.livenessTicker = this.timers.setInterval(
      () => void this.probe(),
      (options.liveness?.every ?? Duration.seconds(5)).toMilliseconds(),
      { background: true },
    );
  }

  /**
   * A client for the state directory's data plane: adopts the one that runs (reading back its
   * configuration), replaces one of another version, or starts none yet (the first listeners do).
   */
  static async attach(options: RemoteDataPlaneOptions): Promise<{ plane: RemoteDataPlane; found: Attachment }> {
    const plane = new RemoteDataPlane(options);
    try {
      return { plane, found: await plane.adopt() };
    } catch (e) {
      plane.end();
      throw e;
    }
  }

  private async adopt(): Promise<Attachment> {
    let c: ControlConnection;
    try {
      c = await ControlConnection.connect(this.socketPath);
    } catch {
      return { kind: 'none' };
    }
    let hello: Hello;
    try {
      hello = await this.helloOf(c);
    } catch (e) {
      c.close();
      const pid = readPidFile(this.options.launch.stateDir)?.pid;
      // Hung (alive, accepting, not answering a hello twice, the second time for twice as
      // long): killed, so the caller starts a new one and gives it the configuration from state.
      if (pid !== undefined && killDataPlane(pid, this.options.launch.stateDir)) {
        await waitForExit(pid);
        this.logger.log('error', 'the running data plane hangs (alive, not answering): killed it', {
          pid,
          error: errorMessage(e),
        });
        this.hangKills++;
        return { kind: 'none' };
      }
      throw new Error(
        `a data plane${pid === undefined ? '' : ` (pid ${pid})`} accepts connections on ${this.socketPath} but does not answer: ${errorMessage(e)}; stop it (\`groundwork down\` or kill it) and start again`,
      );
    }
    const config = await c.request('get-config', {}).catch(() => undefined);
    if (config) {
      this.listeners = config.listeners.map(fromWireListener);
      this.routes = config.routes.map(fromWireRoute);
      for (const [pool, backends] of Object.entries(config.pools)) this.pools.set(pool, backends);
      for (const id of config.drained) this.drained.add(id);
      this.addresses = config.addresses;
      this.dns = config.dns ?? null;
    }
    if (hello.protocol === PROTOCOL && hello.version === this.version && config) {
      this.use(c, hello);
      this.logger.log('info', 'data plane adopted', {
        pid: hello.pid,
        version: hello.version,
        listeners: this.listeners.length,
        routes: this.routes.length,
        pools: this.pools.size,
      });
      return {
        kind: 'adopted',
        hello,
        listeners: this.listeners.length,
        routes: this.routes.length,
        pools: this.pools.size,
      };
    }
    // The same wire protocol: its counters go on in the new process's numbers.
    if (hello.protocol === PROTOCOL) {
      const old = await c.request('metrics', {}).catch(() => undefined);
      if (old) this.carryOver(old);
    }
    c.close();
    this.logger.log(
      'warn',
      'data plane of another version: replacing it (listeners are closed until the new one binds)',
      {
        pid: hello.pid,
        running: hello.version,
        wanted: this.version,
      },
    );
    await stopDataPlane(this.options.launch.stateDir);
    const next = await this.connect(true);
    if (!next) throw new Error('the new data plane did not start');
    return { kind: 'replaced', old: hello, hello: await next.request('hello', {}) };
  }

  /**
   * The process's hello at attach: asked again, waiting twice as long, when the first goes
   * unanswered or came late because our own loop was blocked; throws when both go unanswered.
   */
  private async helloOf(c: ControlConnection): Promise<Hello> {
    const everyMs = (this.options.liveness?.every ?? Duration.seconds(5)).toMilliseconds();
    try {
      return await c.request('hello', {}, everyMs);
    } catch (e) {
      if (c.closed) throw e;
      return await c.request('hello', {}, 2 * everyMs);
    }
  }

  // ------------------------------------------------------------------ the DataPlane interface

  async setListeners(listeners: Listener[]): Promise<void> {
    this.assertOpen();
    this.listeners = listeners;
    const c = await this.connect(listeners.length > 0);
    if (!c) {
      this.addresses = {};
      return;
    }
    const r = await c.request('set-listeners', { listeners: listeners.map(toWireListener) });
    this.addresses = r.addresses;
  }

  setRoutes(routes: HttpRoute[]): void {
    this.assertOpen();
    const problems = validateRoutes(routes);
    if (problems.length) throw new Error(`invalid routes:\n- ${problems.join('\n- ')}`);
    this.routes = routes;
    this.conn?.send('set-routes', { routes: routes.map(toWireRoute) }, (e) => this.failed('set-routes', e));
  }

  setPool(pool: string, backends: Backend[]): void {
    this.assertOpen();
    const owner = new Map<string, string>();
    for (const [p, bs] of this.pools) for (const b of bs) owner.set(b.id, p);
    const problems = validatePool(pool, backends, (id) => owner.get(id));
    if (problems.length) throw new Error(`invalid pool "${pool}":\n- ${problems.join('\n- ')}`);
    if (backends.length) this.pools.set(pool, backends);
    else this.pools.delete(pool);
    for (const b of backends) this.drained.delete(b.id);
    this.conn?.send('set-pool', { pool, backends }, (e) => this.failed('set-pool', e));
  }

  async drain(backendId: string, timeout: Duration): Promise<{ drained: boolean; abandoned: number }> {
    this.assertOpen();
    if ([...this.pools.values()].some((bs) => bs.some((b) => b.id === backendId))) this.drained.add(backendId);
    const c = this.conn ?? (await this.connecting);
    if (!c) return { drained: true, abandoned: 0 };
    try {
      return await c.request(
        'drain',
        { backend: backendId, timeout: timeout.toString() },
        timeout.toMilliseconds() + 10_000,
      );
    } catch (e) {
      // The process died meanwhile: what was in flight there is gone with it.
      if (c.closed) return { drained: false, abandoned: 0 };
      throw e;
    }
  }

  address(listener: string): { host: string; port: number } | undefined {
    return this.addresses[listener];
  }

  metrics(): DataPlaneMetrics {
    this.lastRead = this.timers.ms();
    return this.snapshot;
  }

  /** Metrics as of now (from the process); also refreshes what `metrics()` returns. */
  refreshMetrics(): Promise<DataPlaneMetrics> {
    this.lastRead = this.timers.ms();
    const c = this.conn;
    if (!c) return Promise.resolve(this.snapshot);
    // One request in flight at a time; a caller that comes while one is out waits for the next.
    // A failure keeps the last snapshot (said in the log): a rollout goes on with it rather than fail.
    const run = async (): Promise<DataPlaneMetrics> => {
      try {
        const live = await c.request('metrics', {});
        this.snapshot = withCarried(this.carried, live);
      } catch (e) {
        if (!c.closed) this.logger.log('warn', 'data plane metrics not refreshed', { error: errorMessage(e) });
      }
      return this.snapshot;
    };
    const next = (this.refreshing ?? Promise.resolve()).catch(() => undefined).then(run);
    this.refreshing = next;
    void next
      .finally(() => {
        if (this.refreshing === next) this.refreshing = undefined;
      })
      .catch(() => undefined);
    return next;
  }

  /** Stops the data-plane process (every listener closes, connections are cut). */
  async close(): Promise<void> {
    if (this.ended) return;
    this.end();
    await this.connecting?.catch(() => undefined);
    const c = this.conn;
    this.conn = undefined;
    if (c && !c.closed) {
      const gone = new Promise<void>((r) => {
        c.onClose = () => r();
      });
      await c.request('shutdown', {}).catch(() => undefined);
      await gone;
      if (this.pid !== undefined) await waitForExit(this.pid);
    } else await stopDataPlane(this.options.launch.stateDir);
  }

  /** Lets go of the process without stopping it: it keeps serving what it was given. */
  async detach(): Promise<void> {
    if (this.ended) return;
    this.end();
    await this.connecting?.catch(() => undefined);
    this.conn?.close();
    this.conn = undefined;
  }

  // ------------------------------------------------------------------ connection and supervision

  /** Stops the client's timers (also when `attach` failed half-way). */
  private end(): void {
    this.ended = true;
    this.ticker.cancel();
    this.livenessTicker.cancel();
    this.restartTimer?.cancel();
  }

  private assertOpen(): void {
    if (this.ended) throw new Error('this data plane client was closed; attach a new one');
  }

  private failed(op: string, e: Error): void {
    this.logger.log('error', `data plane refused ${op}`, { error: e.message });
  }

  /**
   * The live connection; connects (starting the process when `start` and none answers) and
   * pushes the whole configuration to what it reached.
   */
  private connect(start: boolean): Promise<ControlConnection | undefined> {
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    this.connecting ??= this.reach(start).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async reach(start: boolean): Promise<ControlConnection | undefined> {
    let c: ControlConnection | undefined;
    try {
      c = await ControlConnection.connect(this.socketPath);
    } catch {
      if (!start) return undefined;
      const pid = await spawnDataPlane(this.options.launch);
      this.logger.log('info', 'data plane started', { pid, log: this.options.launch.stateDir });
      c = await ControlConnection.connect(this.socketPath);
    }
    const hello = await c.request('hello', {});
    if (this.ended) {
      c.close();
      return undefined;
    }
    this.use(c, hello);
    this.push(c);
    return c;
  }

  /** Makes `c` the live connection (events, loss handling). */
  private use(c: ControlConnection, hello: Hello): void {
    this.conn = c;
    this.pid = hello.pid;
    this.misses = 0;
    this.connectedAt = this.timers.ms();
    c.onClose = () => this.lost(c);
    if (this.options.accessLog) {
      c.onAccess = this.options.accessLog;
      c.send('subscribe', { accessLog: true }, (e) => this.failed('subscribe', e));
    }
  }

  async setDns(dns: DnsService | null): Promise<void> {
    this.assertOpen();
    this.dns = dns;
    const c = await this.connect(dns !== null || this.listeners.length > 0);
    if (!c) return;
    await c.request('set-dns', { dns });
  }

  /** Sends everything this client was given (a new process, or one that lost us). */
  private push(c: ControlConnection): void {
    if (this.dns) c.send('set-dns', { dns: this.dns }, (e) => this.failed('set-dns', e));
    c.send('set-routes', { routes: this.routes.map(toWireRoute) }, (e) => this.failed('set-routes', e));
    for (const [pool, backends] of this.pools)
      c.send('set-pool', { pool, backends }, (e) => this.failed('set-pool', e));
    for (const id of this.drained) c.send('drain', { backend: id, timeout: '1ms' }, (e) => this.failed('drain', e));
    // A listener declared with port 0 keeps the port it had, so clients can reconnect to it.
    const listeners = this.listeners.map((l) => {
      const had = this.addresses[l.name];
      return l.port === 0 && had ? { ...l, port: had.port } : l;
    });
    if (listeners.length)
      void c
        .request('set-listeners', { listeners: listeners.map(toWireListener) })
        .then((r) => {
          this.addresses = r.addresses;
        })
        .catch((e: unknown) => {
          if (!c.closed) this.failed('set-listeners', e as Error);
        });
  }

  /** One liveness probe (see the file comment); kills the process after too many misses. */
  private async probe(): Promise<void> {
    const c = this.conn;
    if (!c || c.closed || this.probing || this.ended) return;
    this.probing = true;
    const everyMs = (this.options.liveness?.every ?? Duration.seconds(5)).toMilliseconds();
    const limit = this.options.liveness?.misses ?? 3;
    const started = this.timers.ms();
    const heard = c.bytesRead;
    try {
      await c.request('hello', {}, everyMs);
      this.misses = 0;
    } catch (e) {
      // Closed: `lost` restarts it. Late: our loop was blocked, not proof that the process hangs.
      if (c.closed || this.timers.ms() - started > everyMs * 1.5) return;
      // After a block of our own loop, the deadline (a timer) runs before the socket is read,
      // so an answer that came in time may still wait in the kernel. One turn later (setImmediate
      // runs after the poll phase) it has been read: anything received since the hello went out
      // proves the process's loop runs.
      await new Promise((resolve) => setImmediate(resolve));
      if (c.closed || c.bytesRead !== heard) {
        this.misses = 0;
        return;
      }
      this.misses++;
      this.logger.log('warn', 'the data plane did not answer', {
        pid: this.pid,
        misses: this.misses,
        of: limit,
        error: errorMessage(e),
      });
      if (this.misses >= limit && this.conn === c && this.pid !== undefined) {
        const pid = this.pid;
        this.misses = 0;
        if (!killDataPlane(pid, this.options.launch.stateDir)) {
          // Not ours to kill (or already gone): reconnecting would only find the same process.
          this.logger.log('error', 'the data plane hangs (alive, not answering) and could not be killed', { pid });
          return;
        }
        this.logger.log('error', 'the data plane hangs (alive, not answering): killed it to start a new one', {
          pid,
          unansweredMs: limit * everyMs,
        });
        this.hangKills++;
        // Its listeners must be free before the new one binds them.
        await waitForExit(pid, 2000);
        // Its socket is gone with it; `lost` starts the new process and gives it the configuration.
        c.close();
      }
    } finally {
      this.probing = false;
    }
  }

  private lost(c: ControlConnection): void {
    if (this.conn !== c) return;
    this.conn = undefined;
    this.carryOver(this.snapshot);
    if (this.ended) return;
    const ranMs = this.timers.ms() - this.connectedAt;
    this.failures = ranMs >= HEALTHY_RUN_MS ? 0 : this.failures + 1;
    this.logger.log('warn', 'lost the data plane; starting it again', { pid: this.pid, ranMs: Math.round(ranMs) });
    this.scheduleRestart();
  }

  /**
   * The process behind `last` (its latest numbers, carried ones included) is gone: its counters
   * are kept and added to the next process's, and until that one answers `metrics()` shows
   * them with nothing in flight. Entries no longer configured are dropped.
   */
  private carryOver(last: DataPlaneMetrics): void {
    const backends = new Set<string>();
    for (const bs of this.pools.values()) for (const b of bs) backends.add(b.id);
    this.carried = pruneCarried(countersOf(last), {
      routes: new Set(this.routes.map((r) => r.id)),
      backends,
      listeners: new Set(this.listeners.map((l) => l.name)),
    });
    this.snapshot = this.carried;
  }

  private scheduleRestart(): void {
    if (this.ended) return;
    const delay = this.failures === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.failures - 1));
    this.restartTimer = this.timers.setTimeout(() => {
      void this.connect(this.listeners.length > 0).then(
        (c) => {
          if (c) {
            this.restarts++;
            this.logger.log('info', 'data plane back', { pid: this.pid, restarts: this.restarts });
          }
        },
        (e: unknown) => {
          this.failures++;
          this.logger.log('error', 'could not start the data plane', { error: errorMessage(e) });
          this.scheduleRestart();
        },
      );
    }, delay);
  }
}
