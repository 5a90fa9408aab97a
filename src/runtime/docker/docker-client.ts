/**
 * A small Docker Engine API client over the engine's unix socket (node:http, no dependencies),
 * typed with only the calls Groundwork makes. Drivers depend on `Pick<DockerClient, ...>` of the
 * calls they use, never on this class, so a test can hand them anything with those methods.
 *
 * Every failure is a DockerEngineError with a code from a small closed set and a message that
 * says what failed and how to fix it ("the Docker engine is not reachable at ...; start dockerd").
 */
import http from 'node:http';
import type { Readable } from 'node:stream';
import type {
  ContainerCreateBody,
  ContainerInspect,
  ContainerStats,
  ContainerSummary,
  EngineInfo,
  EngineVersion,
  ImageInspect,
  ProgressMessage,
  SwarmNode,
  SwarmService,
  SwarmServiceSpec,
  SwarmTask,
} from './docker-api-types.js';
import { demuxLogStream, JsonLines, type LogFrame } from './docker-streams.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export const DOCKER_ERROR_CODES = [
  'unreachable',
  'permission',
  'timeout',
  'not-found',
  'conflict',
  'not-modified',
  'not-swarm-manager',
  'bad-request',
  'engine',
] as const;
export type DockerErrorCode = (typeof DOCKER_ERROR_CODES)[number];

export class DockerEngineError extends Error {
  constructor(
    readonly code: DockerErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DockerEngineError';
  }
}

export function isDockerError(e: unknown, code: DockerErrorCode): e is DockerEngineError {
  return e instanceof DockerEngineError && e.code === code;
}

export interface DockerClientOptions {
  /** Path of the engine's unix socket (default /var/run/docker.sock). */
  socketPath?: string;
  /** API version prefix (default 1.41: Docker 20.10, Debian 12's docker.io). */
  apiVersion?: string;
  /** Time one ordinary call may take (default 60s); long calls (stop, wait, build) set their own. */
  timeoutMs?: number;
}

/** The socket named by DOCKER_HOST when it is a unix:// address, else the default. */
export function dockerSocketFromEnv(env: Record<string, string | undefined>): string {
  const host = env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : DEFAULT_DOCKER_SOCKET;
}

export interface LogOptions {
  /** Last N lines; all when omitted. */
  tail?: number;
  timestamps?: boolean;
}

export interface ProgressOptions {
  onProgress?: (m: ProgressMessage) => void;
  timeoutMs?: number;
}

type Query = Record<string, string | number | boolean | undefined>;

interface RequestOptions {
  operation: string;
  query?: Query;
  body?: unknown;
  /** A raw body (build context) instead of JSON. */
  stream?: { body: Readable; contentType: string };
  timeoutMs?: number;
}

export class DockerClient {
  readonly socketPath: string;
  private readonly apiVersion: string;
  private readonly timeoutMs: number;

  constructor(opts: DockerClientOptions = {}) {
    this.socketPath = opts.socketPath ?? DEFAULT_DOCKER_SOCKET;
    this.apiVersion = opts.apiVersion ?? '1.41';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  // ---- engine ----

  async ping(): Promise<void> {
    await this.call('GET', '/_ping', { operation: 'ping the Docker engine' });
  }

  async version(): Promise<EngineVersion> {
    return this.json<EngineVersion>('GET', '/version', { operation: 'read the engine version' });
  }

  async info(): Promise<EngineInfo> {
    return this.json<EngineInfo>('GET', '/info', { operation: 'read engine info' });
  }

  // ---- containers ----

  async createContainer(name: string, body: ContainerCreateBody): Promise<{ Id: string; Warnings: string[] | null }> {
    return this.json('POST', '/containers/create', { operation: `create container ${name}`, query: { name }, body });
  }

  async startContainer(id: string): Promise<void> {
    await this.call('POST', `/containers/${enc(id)}/start`, { operation: `start container ${id}` }, [304]);
  }

  /** Sends the container's stop signal, then SIGKILL after `graceSeconds`; resolves when it has stopped. */
  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    await this.call(
      'POST',
      `/containers/${enc(id)}/stop`,
      {
        operation: `stop container ${id}`,
        query: { t: graceSeconds },
        timeoutMs: graceSeconds * 1000 + this.timeoutMs,
      },
      [304],
    );
  }

  async killContainer(id: string, signal: string): Promise<void> {
    await this.call('POST', `/containers/${enc(id)}/kill`, { operation: `signal container ${id}`, query: { signal } });
  }

  async inspectContainer(id: string): Promise<ContainerInspect> {
    return this.json<ContainerInspect>('GET', `/containers/${enc(id)}/json`, { operation: `inspect container ${id}` });
  }

  async tryInspectContainer(id: string): Promise<ContainerInspect | undefined> {
    return orUndefined(this.inspectContainer(id));
  }

  /** Containers (running or not) that carry every one of `labels` (`key` or `key=value`). */
  async listContainers(labels: string[]): Promise<ContainerSummary[]> {
    return this.json<ContainerSummary[]>('GET', '/containers/json', {
      operation: 'list containers',
      query: { all: 1, filters: JSON.stringify({ label: labels }) },
    });
  }

  /** The container's log as frames (stdout/stderr), in the order the engine recorded them. */
  async containerLogs(id: string, opts: LogOptions = {}): Promise<LogFrame[]> {
    const { body } = await this.call('GET', `/containers/${enc(id)}/logs`, {
      operation: `read the log of container ${id}`,
      query: { stdout: 1, stderr: 1, tail: opts.tail ?? 'all', timestamps: opts.timestamps ? 1 : undefined },
    });
    return demuxLogStream(body);
  }

  /** One sample, without the engine's one-second wait for a second CPU sample. */
  async containerStats(id: string): Promise<ContainerStats> {
    return this.json<ContainerStats>('GET', `/containers/${enc(id)}/stats`, {
      operation: `read stats of container ${id}`,
      query: { stream: 'false', 'one-shot': 'true' },
    });
  }

  async removeContainer(id: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.call('DELETE', `/containers/${enc(id)}`, {
      operation: `remove container ${id}`,
      query: { force: opts.force ? 1 : undefined, v: 1 },
    });
  }

  /** Resolves with the exit code once the container is not running. */
  async waitContainer(id: string, timeoutMs: number): Promise<{ StatusCode: number }> {
    return this.json('POST', `/containers/${enc(id)}/wait`, {
      operation: `wait for container ${id}`,
      query: { condition: 'not-running' },
      timeoutMs,
    });
  }

  // ---- images ----

  async inspectImage(ref: string): Promise<ImageInspect> {
    return this.json<ImageInspect>('GET', `/images/${enc(ref)}/json`, { operation: `inspect image ${ref}` });
  }

  async tryInspectImage(ref: string): Promise<ImageInspect | undefined> {
    return orUndefined(this.inspectImage(ref));
  }

  async removeImage(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.call('DELETE', `/images/${enc(ref)}`, {
      operation: `remove image ${ref}`,
      query: { force: opts.force ? 1 : undefined },
    });
  }

  /** Builds from a tar build context; streams the builder's output to `onProgress`. Returns the image id. */
  async buildImage(
    context: Readable,
    opts: { tag: string; dockerfile: string; labels?: Record<string, string> } & ProgressOptions,
  ): Promise<string> {
    let id: string | undefined;
    await this.progress(
      'POST',
      '/build',
      {
        operation: `build image ${opts.tag}`,
        query: {
          t: opts.tag,
          dockerfile: opts.dockerfile,
          rm: 1,
          forcerm: 1,
          labels: opts.labels ? JSON.stringify(opts.labels) : undefined,
        },
        stream: { body: context, contentType: 'application/x-tar' },
        timeoutMs: opts.timeoutMs ?? 30 * 60_000,
      },
      (m) => {
        if (m.aux?.ID) id = m.aux.ID;
        opts.onProgress?.(m);
      },
    );
    return id ?? (await this.inspectImage(opts.tag)).Id;
  }

  async pullImage(ref: string, opts: ProgressOptions = {}): Promise<void> {
    const { name, tag } = splitImageRef(ref);
    await this.progress(
      'POST',
      '/images/create',
      { operation: `pull image ${ref}`, query: { fromImage: name, tag }, timeoutMs: opts.timeoutMs ?? 30 * 60_000 },
      (m) => opts.onProgress?.(m),
    );
  }

  // ---- swarm ----

  async createService(spec: SwarmServiceSpec): Promise<{ ID: string; Warnings?: string[] | null }> {
    return this.json('POST', '/services/create', { operation: `create swarm service ${spec.Name}`, body: spec });
  }

  /** Replaces the service's spec (`version` is the one read, for optimistic concurrency), or rolls back to the previous spec. */
  async updateService(
    id: string,
    version: number,
    spec: SwarmServiceSpec,
    opts: { rollback?: boolean } = {},
  ): Promise<{ Warnings?: string[] | null }> {
    return this.json('POST', `/services/${enc(id)}/update`, {
      operation: `${opts.rollback ? 'roll back' : 'update'} swarm service ${spec.Name}`,
      query: { version, rollback: opts.rollback ? 'previous' : undefined },
      body: spec,
    });
  }

  async inspectService(id: string): Promise<SwarmService> {
    return this.json<SwarmService>('GET', `/services/${enc(id)}`, { operation: `inspect swarm service ${id}` });
  }

  async tryInspectService(id: string): Promise<SwarmService | undefined> {
    return orUndefined(this.inspectService(id));
  }

  async listServices(labels: string[]): Promise<SwarmService[]> {
    return this.json<SwarmService[]>('GET', '/services', {
      operation: 'list swarm services',
      query: { filters: JSON.stringify({ label: labels }) },
    });
  }

  async removeService(id: string): Promise<void> {
    await this.call('DELETE', `/services/${enc(id)}`, { operation: `remove swarm service ${id}` });
  }

  async listTasks(filters: {
    service?: string;
    label?: string[];
    desiredState?: 'running' | 'shutdown' | 'accepted';
  }): Promise<SwarmTask[]> {
    const f: Record<string, string[]> = {};
    if (filters.service) f.service = [filters.service];
    if (filters.label) f.label = filters.label;
    if (filters.desiredState) f['desired-state'] = [filters.desiredState];
    return this.json<SwarmTask[]>('GET', '/tasks', {
      operation: 'list swarm tasks',
      query: { filters: JSON.stringify(f) },
    });
  }

  async listNodes(): Promise<SwarmNode[]> {
    return this.json<SwarmNode[]>('GET', '/nodes', { operation: 'list swarm nodes' });
  }

  async serviceLogs(id: string, opts: LogOptions = {}): Promise<LogFrame[]> {
    const { body } = await this.call('GET', `/services/${enc(id)}/logs`, {
      operation: `read the log of swarm service ${id}`,
      query: { stdout: 1, stderr: 1, tail: opts.tail ?? 'all', timestamps: opts.timestamps ? 1 : undefined },
    });
    return demuxLogStream(body);
  }

  // ---- transport ----

  private async json<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    const { body } = await this.call(method, path, opts);
    const text = body.toString('utf8');
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DockerEngineError(
        'engine',
        `${opts.operation}: the engine answered with something that is not JSON: ${text.slice(0, 200)}`,
      );
    }
  }

  /** A call whose answer is newline-delimited progress JSON; an `error` message in it fails the call. */
  private async progress(
    method: string,
    path: string,
    opts: RequestOptions,
    onMessage: (m: ProgressMessage) => void,
  ): Promise<void> {
    let failure: string | undefined;
    const lines = new JsonLines();
    const handle = (ms: ProgressMessage[]) => {
      for (const m of ms) {
        if (m.error || m.errorDetail) failure = m.errorDetail?.message ?? m.error;
        onMessage(m);
      }
    };
    await this.call(method, path, opts, [], (chunk) => handle(lines.push(chunk)));
    handle(lines.end());
    if (failure !== undefined) throw new DockerEngineError('engine', `${opts.operation}: ${failure.trim()}`);
  }

  private call(
    method: string,
    path: string,
    opts: RequestOptions,
    alsoOk: number[] = [],
    onChunk?: (c: Buffer) => void,
  ): Promise<{ status: number; body: Buffer }> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const fullPath = `/v${this.apiVersion}${path}${qs.size ? `?${qs.toString()}` : ''}`;
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string | number> = {};
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    if (opts.stream) headers['Content-Type'] = opts.stream.contentType;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;

    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: DockerEngineError) => {
        if (!settled) {
          settled = true;
          reject(e);
        }
      };
      const req = http.request({ socketPath: this.socketPath, method, path: fullPath, headers }, (res) => {
        const chunks: Buffer[] = [];
        const status = res.statusCode ?? 0;
        const streaming = onChunk && status < 300;
        res.on('data', (c: Buffer) => {
          if (streaming) onChunk(c);
          else chunks.push(c);
        });
        res.on('error', (e) => fail(this.transportError(e, opts.operation)));
        res.on('end', () => {
          clearTimeout(timer);
          const body = Buffer.concat(chunks);
          if ((status >= 200 && status < 300) || alsoOk.includes(status)) {
            if (!settled) {
              settled = true;
              resolve({ status, body });
            }
            return;
          }
          fail(this.statusError(status, body, opts.operation));
        });
      });
      const timer = setTimeout(() => {
        fail(
          new DockerEngineError(
            'timeout',
            `${opts.operation}: no answer from the Docker engine at ${this.socketPath} within ${Math.round(timeoutMs / 1000)}s; check \`docker info\` and the dockerd log`,
          ),
        );
        req.destroy();
      }, timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        fail(this.transportError(e, opts.operation));
      });
      if (opts.stream) {
        opts.stream.body.on('error', (e) => {
          clearTimeout(timer);
          fail(
            new DockerEngineError('bad-request', `${opts.operation}: could not read the build context: ${e.message}`),
          );
          req.destroy();
        });
        opts.stream.body.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }

  private transportError(e: Error & { code?: string }, operation: string): DockerEngineError {
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
      return new DockerEngineError(
        'unreachable',
        `${operation}: the Docker engine is not reachable at ${this.socketPath}; start dockerd (e.g. \`systemctl start docker\`) or point DOCKER_HOST at its socket`,
      );
    }
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      return new DockerEngineError(
        'permission',
        `${operation}: permission denied on ${this.socketPath}; run Groundwork as root or add its user to the \`docker\` group`,
      );
    }
    return new DockerEngineError(
      'unreachable',
      `${operation}: talking to the Docker engine at ${this.socketPath} failed: ${e.message}`,
    );
  }

  private statusError(status: number, body: Buffer, operation: string): DockerEngineError {
    let message = body.toString('utf8').trim();
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      /* plain text */
    }
    if (status === 304) return new DockerEngineError('not-modified', `${operation}: nothing to do`, status);
    if (status === 404) return new DockerEngineError('not-found', `${operation}: ${message}`, status);
    if (status === 409) return new DockerEngineError('conflict', `${operation}: ${message}`, status);
    if (status === 503 && /swarm/i.test(message)) {
      return new DockerEngineError(
        'not-swarm-manager',
        `${operation}: this Docker engine is not a Swarm manager (${message}); run \`docker swarm init\` here or point Groundwork at a manager`,
        status,
      );
    }
    if (status === 400) return new DockerEngineError('bad-request', `${operation}: ${message}`, status);
    return new DockerEngineError('engine', `${operation}: the engine answered ${status}: ${message}`, status);
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isDockerError(e, 'not-found')) return undefined;
    throw e;
  }
}

/** `registry:5000/app:v2` → name `registry:5000/app`, tag `v2`; digests stay in the name. */
export function splitImageRef(ref: string): { name: string; tag: string | undefined } {
  if (ref.includes('@')) return { name: ref, tag: undefined };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: 'latest' };
}
