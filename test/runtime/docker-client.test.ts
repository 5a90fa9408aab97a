/**
 * The docker runtime's pure parts and the client's transport errors; no engine needed. The tar
 * build context is checked with the system's tar, a real reader.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildContext, dockerIgnore } from '../../src/runtime/docker/build-context.js';
import { commandOverride, containerCreateBody } from '../../src/runtime/docker/container-create.js';
import { engineName, identityLabels, tryParseIdentity } from '../../src/runtime/docker/container-labels.js';
import { containerUser } from '../../src/runtime/docker/container-user.js';
import {
  DockerClient,
  DockerEngineError,
  dockerSocketFromEnv,
  splitImageRef,
} from '../../src/runtime/docker/docker-client.js';
import { demuxLogStream, JsonLines, lastLines } from '../../src/runtime/docker/docker-streams.js';
import { exitStatus } from '../../src/runtime/docker/exit-status.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const frame = (stream: number, s: string) => {
  const payload = Buffer.from(s);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
};

describe('docker client: transport errors', () => {
  it('an engine that is not there is named, with how to fix it', async () => {
    const dir = makeTempDir('no-engine');
    try {
      const socket = path.join(dir, 'docker.sock');
      const err = await new DockerClient({ socketPath: socket }).ping().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DockerEngineError);
      expect((err as DockerEngineError).code).toBe('unreachable');
      expect((err as Error).message).toBe(
        `ping the Docker engine: the Docker engine is not reachable at ${socket}; start dockerd (e.g. \`systemctl start docker\`) or point DOCKER_HOST at its socket`,
      );
    } finally {
      removeTempDir(dir);
    }
  });

  it('DOCKER_HOST=unix://... picks the socket; anything else keeps the default', () => {
    expect(dockerSocketFromEnv({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toBe(
      '/run/user/1000/docker.sock',
    );
    expect(dockerSocketFromEnv({ DOCKER_HOST: 'tcp://10.0.0.2:2375' })).toBe('/var/run/docker.sock');
    expect(dockerSocketFromEnv({})).toBe('/var/run/docker.sock');
  });

  it('image references split into name and tag', () => {
    expect(splitImageRef('groundwork-test:latest')).toEqual({ name: 'groundwork-test', tag: 'latest' });
    expect(splitImageRef('registry.lab:5000/team/app')).toEqual({ name: 'registry.lab:5000/team/app', tag: 'latest' });
    expect(splitImageRef('registry.lab:5000/app:v2')).toEqual({ name: 'registry.lab:5000/app', tag: 'v2' });
    expect(splitImageRef('app@sha256:abc')).toEqual({ name: 'app@sha256:abc', tag: undefined });
  });
});

describe('docker streams', () => {
  it('demultiplexes stdout and stderr frames, including a payload split across frames', () => {
    const buf = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'par'), frame(1, 'tial\n')]);
    expect(demuxLogStream(buf).map((f) => [f.stream, f.payload.toString()])).toEqual([
      ['stdout', 'out 1\n'],
      ['stderr', 'err 1\n'],
      ['stdout', 'par'],
      ['stdout', 'tial\n'],
    ]);
  });

  it('a TTY stream (no frame headers) is one stdout frame', () => {
    expect(demuxLogStream(Buffer.from('hello from a tty\r\n')).map((f) => [f.stream, f.payload.toString()])).toEqual([
      ['stdout', 'hello from a tty\r\n'],
    ]);
    expect(demuxLogStream(Buffer.alloc(0))).toEqual([]);
  });

  it('newline-delimited JSON is split across chunk boundaries', () => {
    const j = new JsonLines();
    expect(j.push('{"stream":"Step 1/2"}\r\n{"str')).toEqual([{ stream: 'Step 1/2' }]);
    expect(j.push('eam":"x"}\n{"error":"boom"}')).toEqual([{ stream: 'x' }]);
    expect(j.end()).toEqual([{ error: 'boom' }]);
  });

  it('lastLines keeps the last N lines, each newline-terminated', () => {
    expect(lastLines('a\nb\nc\n', 2)).toBe('b\nc\n');
    expect(lastLines('a\nb\nc', 2)).toBe('b\nc\n');
    expect(lastLines('', 3)).toBe('');
  });
});

describe('exit status of a container', () => {
  it.each([
    [0, false, { state: 'exited', exitCode: 0, signal: null }],
    [3, false, { state: 'exited', exitCode: 3, signal: null }],
    [137, false, { state: 'exited', exitCode: null, signal: 'SIGKILL' }],
    [143, false, { state: 'exited', exitCode: null, signal: 'SIGTERM' }],
    [137, true, { state: 'exited', exitCode: null, signal: 'SIGKILL (out of memory)' }],
    [1, true, { state: 'exited', exitCode: 1, signal: 'SIGKILL (out of memory)' }],
    [null, false, { state: 'exited', exitCode: null, signal: null }],
  ] as const)('code %s (oom %s)', (code, oom, want) => {
    expect(exitStatus(code, oom)).toEqual(want);
  });
});

describe('container create body', () => {
  it('command and args map onto ENTRYPOINT/CMD the way the process runtime runs them', () => {
    expect(commandOverride('node', ['server.js'])).toEqual({ entrypoint: [], cmd: ['node', 'server.js'] });
    expect(commandOverride('echo hi', null)).toEqual({ entrypoint: [], cmd: ['/bin/sh', '-c', 'exec 2>&1\necho hi'] });
    expect(commandOverride('', ['--port', '80'])).toEqual({ cmd: ['--port', '80'] });
    expect(commandOverride('', null)).toEqual({});
  });

  it('limits, host network, no restart policy, init, labels, cwd bind only with a command', () => {
    const base = {
      id: 'web-0-abc',
      stack: 's',
      service: 'web',
      index: 0,
      args: null,
      cwd: '/srv/rel',
      env: { A: '1' },
      user: null,
      ports: {},
      specHash: 'h',
      memoryBytes: 1 << 26,
      cpuCores: 0.25,
    };
    const opts = {
      image: 'img',
      labels: { l: 'v' },
      user: '1000:1000',
      network: 'host',
      logRotation: { maxSize: '10m', maxFiles: 3 },
    };
    const withCmd = containerCreateBody({ ...base, command: 'run' }, opts);
    expect(withCmd).toMatchObject({
      Image: 'img',
      Entrypoint: [],
      Env: ['A=1'],
      WorkingDir: '/srv/rel',
      User: '1000:1000',
      Labels: { l: 'v' },
      HostConfig: {
        NetworkMode: 'host',
        Memory: 1 << 26,
        MemorySwap: 1 << 26,
        NanoCpus: 250_000_000,
        RestartPolicy: { Name: 'no' },
        Init: true,
        Mounts: [{ Type: 'bind', Source: '/srv/rel', Target: '/srv/rel' }],
      },
    });
    const imageCmd = containerCreateBody(
      {
        ...base,
        command: '',
        memoryBytes: null,
        cpuCores: null,
        mounts: [{ source: 'pgdata', target: '/var/lib/pg' }],
      },
      opts,
    );
    expect(imageCmd.WorkingDir).toBeUndefined();
    expect(imageCmd.Entrypoint).toBeUndefined();
    expect(imageCmd.HostConfig.Mounts).toEqual([{ Type: 'volume', Source: 'pgdata', Target: '/var/lib/pg' }]);
    expect(imageCmd.HostConfig.Memory).toBeUndefined();
  });

  it('users: numbers pass through, names resolve to uid:gid', () => {
    const resolve = (name: string) => ({ name, uid: 998, gid: 997 });
    expect(containerUser(null, resolve)).toBeUndefined();
    expect(containerUser('1000', resolve)).toBe('1000');
    expect(containerUser('1000:50', resolve)).toBe('1000:50');
    expect(containerUser('web', resolve)).toBe('998:997');
  });

  it('engine names are valid and at most 63 characters; identity labels read back', () => {
    expect(engineName('homelab', 'web-0-a1b2c3')).toBe('gw-homelab-web-0-a1b2c3');
    expect(engineName('my lab', 'x/y')).toBe('gw-my-lab-x-y');
    const long = engineName('a'.repeat(40), `${'b'.repeat(40)}-0-abcdef`);
    expect(long.length).toBe(63);
    expect(long).not.toBe(engineName('a'.repeat(40), `${'b'.repeat(40)}-0-abcdee`));
    const labels = identityLabels({
      runtime: 'docker',
      owner: '/o',
      stack: 's',
      service: 'web',
      instance: 'web-0-x',
      index: 2,
      specHash: 'h',
      ports: { http: 8080 },
    });
    expect(tryParseIdentity(labels)).toEqual({
      owner: '/o',
      stack: 's',
      service: 'web',
      instance: 'web-0-x',
      index: 2,
      specHash: 'h',
      ports: { http: 8080 },
    });
    expect(tryParseIdentity({ 'com.example': 'x' })).toBeUndefined();
  });
});

describe('build context', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('build-context');
  });
  afterEach(() => removeTempDir(dir));

  it('.dockerignore: globs, directories, ** and ! exceptions (the last match wins)', () => {
    const ignored = dockerIgnore('# comment\nnode_modules\n*.log\n**/secret.*\n!keep.log\ndocs/\n');
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('node_modules/x/y.js')).toBe(true);
    expect(ignored('app.log')).toBe(true);
    expect(ignored('sub/app.log')).toBe(false);
    expect(ignored('keep.log')).toBe(false);
    expect(ignored('a/b/secret.env')).toBe(true);
    expect(ignored('docs/readme.md')).toBe(true);
    expect(ignored('src/index.ts')).toBe(false);
    expect(dockerIgnore('')('anything')).toBe(false);
  });

  it('is a tar that tar reads back: nested files, long names, symlinks, modes; ignored files left out', async () => {
    const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
    mkdirSync(path.join(dir, 'src', longDir), { recursive: true });
    writeFileSync(path.join(dir, 'src', longDir, 'file.txt'), 'deep\n');
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(70_000, 7));
    writeFileSync(path.join(dir, 'debug.log'), 'noise');
    symlinkSync('run.sh', path.join(dir, 'link.sh'));
    writeFileSync(path.join(dir, '.dockerignore'), '*.log\nDockerfile\n');
    const tarFile = path.join(dir, '..', `${path.basename(dir)}.tar`);
    const chunks: Buffer[] = [];
    for await (const c of buildContext(dir)) chunks.push(c as Buffer);
    writeFileSync(tarFile, Buffer.concat(chunks));
    const listing = execFileSync('tar', ['-tvf', tarFile], { encoding: 'utf8' });
    expect(listing).toContain(`src/${longDir}/file.txt`);
    expect(listing).toMatch(/^-rwxr-xr-x .* run\.sh$/m);
    expect(listing).toMatch(/link\.sh -> run\.sh/);
    expect(listing).not.toContain('debug.log');
    // The Dockerfile and .dockerignore always go, even when ignored.
    expect(listing).toContain('Dockerfile');
    const out = path.join(dir, 'out');
    mkdirSync(out);
    execFileSync('tar', ['-xf', tarFile, '-C', out]);
    expect(readFileSync(path.join(out, 'src', longDir, 'file.txt'), 'utf8')).toBe('deep\n');
    expect(readFileSync(path.join(out, 'big.bin')).equals(Buffer.alloc(70_000, 7))).toBe(true);
    removeTempDir(tarFile);
  });
});
