/**
 * An installation: one stack file and its state directory, opened once. It owns the store, the
 * runtime drivers, the resource kinds, the clock, the logger and the event bus, and it is the one
 * place where a kind context is built. The CLI (without a daemon) and the daemon each open one and
 * run operations on it (core/local-operations.ts).
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadStack } from '../config/load.js';
import { defaultKinds, type KindRegistry } from '../kinds/registry.js';
import type { KindContext } from '../kinds/resource-kind.js';
import { PortAllocator, portRangeOf, recordedPorts } from '../kinds/service/port-allocator.js';
import { buildModel, type Model } from '../model/build-model.js';
import type { Address } from '../model/resource.js';
import { makeDrivers, type Drivers } from '../runtime/drivers.js';
import { identityFileOf } from '../security/age-identity.js';
import { secretsFileOf } from '../security/secret-file.js';
import { SecretVault } from '../security/secret-vault.js';
import { withSecretVersions } from '../security/secret-versions.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { STATE_DIR_MODE, StoreDamagedError } from '../store/sqlite/store-files.js';
import type { Store } from '../store/store.js';
import type { TrafficDirector } from '../kinds/service/traffic-director.js';
import { AsyncMutex } from '../util/async-mutex.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import { EventBus } from './bus.js';
import { OperationError } from './errors.js';
import { recordEventsInStore } from './record-events.js';

export interface InstallationOptions {
  /** The stack file (resolved: a file, not a directory). */
  stackFile: string;
  stateDir: string;
  /** The environment of whoever opened it: GROUNDWORK_* settings, secrets, variables. */
  env: Record<string, string | undefined>;
  /** Variables given when the installation was opened (`groundwork up --var`). */
  vars?: Record<string, string>;
  clock: Clock;
  logger: Logger;
  /** Run SQLite's quick integrity check on open (default true). */
  checkStore?: boolean;
}

/** Backups of the state store kept after changes (`groundwork state backups`). */
export const STATE_BACKUPS_KEPT = 10;

/** What a caller passes to load the stack file with its own inputs. */
export interface StackInputs {
  /** --var NAME=VALUE of the caller. */
  vars?: Record<string, string>;
  /** GROUNDWORK_VAR_* of the caller's environment. */
  varEnv?: Record<string, string>;
  /**
   * `groundwork destroy`: plan against a stack that declares nothing, so every recorded resource
   * is deleted; volumes (data) only when `volumes` is set.
   */
  destroy?: { volumes: boolean };
}

export class Installation {
  readonly kinds: KindRegistry = defaultKinds();
  readonly bus: EventBus;
  readonly drivers: Drivers;
  readonly portRange: { from: number; to: number };
  /** The data plane's traffic director, when a daemon runs one: rollouts move traffic through it. */
  traffic: TrafficDirector | undefined;
  /** Stack name and directory as last loaded (the directory is known before the first load). */
  stack: string;
  readonly dir: string;
  /** Secret values (encrypted file, then environment, then plaintext files); refreshed by loadModel. */
  readonly secrets: SecretVault;
  /** Incident writes of this process (the daemon's escalation, the operations) run one at a time. */
  readonly incidentsLock = new AsyncMutex();
  private unsubscribe: () => void;

  private constructor(
    readonly opts: InstallationOptions,
    readonly store: Store,
  ) {
    this.bus = new EventBus(() => opts.clock.now(), opts.logger);
    this.drivers = makeDrivers(opts.stateDir, opts.env);
    this.portRange = portRangeOf(opts.env);
    this.dir = path.dirname(opts.stackFile);
    this.stack = path.basename(this.dir);
    this.secrets = new SecretVault({
      secretsFile: secretsFileOf(this.dir, opts.env),
      identityFile: identityFileOf(opts.stateDir, opts.env),
      env: opts.env,
      plainDir: path.join(opts.stateDir, 'secrets'),
    });
    this.unsubscribe = recordEventsInStore(this.bus, store.events);
  }

  /** Opens the state store (creating the state directory, mode 0700) and the drivers. */
  static open(opts: InstallationOptions): Installation {
    let store: Store;
    try {
      mkdirSync(opts.stateDir, { recursive: true, mode: STATE_DIR_MODE });
      store = SqliteStore.open(path.join(opts.stateDir, 'state.db'), opts.clock, {
        check: opts.checkStore ?? true,
        backups: { keep: STATE_BACKUPS_KEPT },
      });
    } catch (e) {
      if (e instanceof StoreDamagedError) throw new OperationError('unavailable', e.message, e.fix);
      throw new OperationError(
        'unavailable',
        `cannot open the state store in ${opts.stateDir}: ${errorMessage(e)}`,
        'check that the directory is writable, or pass another one with --state-dir',
      );
    }
    try {
      chmodSync(opts.stateDir, STATE_DIR_MODE);
    } catch {
      /* not ours to change (e.g. a shared directory); the store file itself is still created */
    }
    return new Installation(opts, store);
  }

  get stateDir(): string {
    return this.opts.stateDir;
  }
  get stackFile(): string {
    return this.opts.stackFile;
  }
  get clock(): Clock {
    return this.opts.clock;
  }
  get logger(): Logger {
    return this.opts.logger;
  }
  get env(): Record<string, string | undefined> {
    return this.opts.env;
  }

  /** Loads and validates the stack file with the caller's inputs; invalid → OperationError. */
  async loadModel(inputs: StackInputs = {}): Promise<Model> {
    const loaded = await loadStack(this.opts.stackFile);
    if (!loaded.config) throw invalidStack(loaded.diagnostics);
    const built = buildModel(
      loaded.config,
      { dir: loaded.dir, configHash: loaded.configHash, file: loaded.file },
      { cli: { ...this.opts.vars, ...inputs.vars }, env: { ...this.opts.env, ...inputs.varEnv } },
    );
    if (!built.model) throw invalidStack([...loaded.diagnostics, ...built.diagnostics]);
    // Secret versions are inputs like variables: a new version changes the specs that use it.
    await this.secrets.refresh(built.model.secrets);
    const model = withSecretVersions(built.model, this.secrets.versions());
    this.stack = model.stack;
    if (inputs.destroy) {
      // Kept volumes are those that exist, as recorded: a destroy never creates or changes one.
      const keep = inputs.destroy.volumes
        ? []
        : (await this.store.resources.listResources())
            .filter((r) => r.kind === 'volume')
            .map((r) => ({
              address: r.address,
              kind: r.kind,
              name: r.address.slice('volume.'.length),
              spec: r.spec,
              dependsOn: [],
            }));
      return { ...model, resources: keep };
    }
    return model;
  }

  /** The kind context without what apply fills in per step (ports, outputsOf, progress). */
  baseContext(): Omit<KindContext, 'outputsOf' | 'progress' | 'ports'> {
    return {
      stack: this.stack,
      dir: this.dir,
      stateDir: this.opts.stateDir,
      drivers: this.drivers.drivers,
      cluster: this.drivers.cluster,
      secrets: this.secrets,
      clock: this.opts.clock,
      logger: this.opts.logger,
      releases: this.store.releases,
      traffic: this.traffic,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
  }

  /** A whole kind context for work outside apply (deploy, rollback, restart, supervision). */
  async kindContext(progress: (address: Address, message: string) => void = () => undefined): Promise<KindContext> {
    // One read: the kinds ask outputsOf synchronously, so it answers from this snapshot (as apply's does).
    const rows = await this.store.resources.listResources();
    const outputs = new Map(rows.map((r) => [r.address, r.outputs]));
    return {
      ...this.baseContext(),
      ports: new PortAllocator(recordedPorts(rows), this.portRange),
      outputsOf: (a) => outputs.get(a),
      progress,
    };
  }

  /** Lets the bus's async subscribers finish what was published (event rows), then closes the store. */
  async close(): Promise<void> {
    await this.bus.drain();
    this.unsubscribe();
    await this.store.close();
  }
}

function invalidStack(diagnostics: import('../config/diagnostic.js').Diagnostic[]): OperationError {
  return new OperationError(
    'invalid-stack',
    `the stack file has ${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'}:\n${diagnostics.map(formatDiagnostic).join('\n')}`,
    'run `groundwork validate` and fix the stack file',
    diagnostics,
  );
}
