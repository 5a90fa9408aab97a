/**
 * What the docker driver does beyond the shared contract, on the real engine: labels and adoption,
 * limits and out-of-memory kills, images' own commands, users, mounts, image builds, and the
 * figures for the closing note (start-to-healthy, a 3-replica deploy).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { DockerDriver } from '../../src/runtime/docker/docker-driver.js';
import type { ContainerInstanceSpec } from '../../src/runtime/docker/container-instance-spec.js';
import { LABEL } from '../../src/runtime/docker/container-labels.js';
import type { InstanceHandle, InstanceStatus } from '../../src/runtime/runtime-driver.js';
import { Duration } from '../../src/util/duration.js';
import {
  describeWithEngine,
  findEngine,
  freePortRun,
  newRunId,
  removeRunObjects,
  RUN_LABEL,
  TEST_IMAGE,
} from '../helpers/docker.js';
import { httpGet } from '../helpers/http.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { connectionNotReady, waitFor } from '../helpers/wait.js';
import { pidOf } from '../helpers/instance-pid.js';

const engine = await findEngine();
const run = newRunId();
const STACK = `dk-${run}`;

describeWithEngine('docker driver', engine, (client) => {
  let dir: string;
  let owner: string;
  let driver: DockerDriver;
  const started: InstanceHandle[] = [];
  const images: string[] = [];

  const make = (o = owner) => new DockerDriver({ client, owner: o, labels: { [RUN_LABEL]: run } });
  const spec = (command: string, extra: Partial<ContainerInstanceSpec> = {}): ContainerInstanceSpec => {
    const index = started.length;
    return {
      id: `svc-${index}-${randomBytes(3).toString('hex')}`,
      stack: STACK,
      service: 'svc',
      index,
      image: TEST_IMAGE,
      command,
      args: null,
      cwd: dir,
      env: {},
      user: null,
      memoryBytes: null,
      cpuCores: null,
      ports: {},
      specHash: 'h1',
      ...extra,
    };
  };
  const start = async (command: string, extra: Partial<ContainerInstanceSpec> = {}, by = driver) => {
    const h = await by.start(spec(command, extra));
    started.push(h);
    return h;
  };
  const waitForLog = (h: InstanceHandle, text: string) =>
    waitFor(async () => (await driver.logs(h, { lines: 1000 })).includes(text), {
      what: `"${text}" in the log of ${h.id}`,
    });
  const waitForEnd = (h: InstanceHandle) =>
    waitFor(
      async (): Promise<InstanceStatus | undefined> => {
        const s = await driver.inspect(h);
        return s.state === 'running' ? undefined : s;
      },
      { what: `${h.id} to end` },
    );

  beforeEach(() => {
    dir = makeTempDir('docker');
    owner = path.join(dir, '.groundwork');
    driver = make();
    started.length = 0;
  });

  afterEach(async () => {
    for (const h of started) {
      await driver.stop(h, Duration.seconds(0)).catch(() => undefined);
      await driver.forget(h).catch(() => undefined);
    }
    removeTempDir(dir);
  });

  afterAll(async () => {
    await removeRunObjects(client, run);
    for (const i of images) await client.removeImage(i, { force: true }).catch(() => undefined);
  }, 120_000);

  it('labels identify the instance; a new driver (a restarted daemon) adopts the same container, never a duplicate', async () => {
    const h = await start('echo ready; exec sleep 300', {
      ports: { http: 23456, admin: 23457 },
      specHash: 'abc123',
      labels: { 'groundwork.release': 'r7' },
    });
    const c = await client.inspectContainer(h.id);
    expect(c.Config.Labels).toMatchObject({
      [LABEL.runtime]: 'docker',
      [LABEL.owner]: owner,
      [LABEL.stack]: STACK,
      [LABEL.service]: 'svc',
      [LABEL.index]: '0',
      [LABEL.specHash]: 'abc123',
      [LABEL.ports]: JSON.stringify({ http: 23456, admin: 23457 }),
      'groundwork.release': 'r7',
    });
    expect(c.HostConfig).toMatchObject({ NetworkMode: 'host', RestartPolicy: { Name: 'no' }, Init: true });

    const restarted = make();
    const listed = await restarted.list(STACK);
    expect(listed).toEqual([h]);
    expect(await restarted.inspect(listed[0] as InstanceHandle)).toEqual({ state: 'running', pid: pidOf(h) });
    // Exactly one container for this instance on the engine.
    expect(await client.listContainers([`${LABEL.owner}=${owner}`])).toHaveLength(1);
    // Another installation on the same engine sees none of it.
    expect(await make(`${owner}-other`).list(STACK)).toEqual([]);
  });

  it('memory and CPU limits are applied by the engine and visible inside the container', async () => {
    const h = await start(
      'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exec sleep 300',
      { memoryBytes: 64 * 1024 * 1024, cpuCores: 0.5 },
    );
    const c = await client.inspectContainer(h.id);
    expect(c.HostConfig).toMatchObject({ Memory: 67108864, MemorySwap: 67108864, NanoCpus: 500_000_000 });
    expect(h.limits).toMatch(/memory 67108864 bytes, cpu 0.5/);
    await waitForLog(h, '67108864');
  });

  it('an instance killed for running out of memory is reported as such', async () => {
    const h = await start('echo allocating; sleep 0.5; exec dd if=/dev/zero of=/dev/null bs=64M count=1', {
      memoryBytes: 16 * 1024 * 1024,
    });
    expect(await waitForEnd(h)).toEqual({ state: 'exited', exitCode: null, signal: 'SIGKILL (out of memory)' });
    expect(await driver.logs(h, { lines: 10 })).toContain('allocating');
  });

  it('a container killed through the engine reads as killed; one stopped by `docker stop` as terminated', async () => {
    const a = await start('echo ready; while :; do sleep 0.05; done');
    await waitForLog(a, 'ready');
    await client.killContainer(a.id, 'SIGKILL');
    expect(await waitForEnd(a)).toEqual({ state: 'exited', exitCode: null, signal: 'SIGKILL' });
    const b = await start('echo ready; while :; do sleep 0.05; done');
    await waitForLog(b, 'ready');
    await client.stopContainer(b.id, 5);
    expect(await driver.inspect(b)).toEqual({ state: 'exited', exitCode: null, signal: 'SIGTERM' });
  });

  it("without a command the image's own command runs in the image's WORKDIR; args replace the image's CMD", async () => {
    const h = await start('', { args: ['sh', '-c', 'echo "args in $(pwd)"; exec sleep 300'] });
    await waitForLog(h, 'args in /');
    const c = await client.inspectContainer(h.id);
    expect(c.Config.Entrypoint).toBeNull();
    expect(c.Config.Cmd).toEqual(['sh', '-c', 'echo "args in $(pwd)"; exec sleep 300']);
    expect(c.Config.WorkingDir).toBe('');
  });

  it('a command with args runs directly, without a shell', async () => {
    const h = await start('/bin/sleep', { args: ['300'] });
    const c = await client.inspectContainer(h.id);
    expect(c.Config.Cmd).toEqual(['/bin/sleep', '300']);
    expect(c.Config.Entrypoint ?? []).toEqual([]);
  });

  /**
   * Starts an instance that ends at once. Whether start itself sees the end (and throws) or the
   * instance ends just after start returned is a race; either way the reason must come out.
   */
  const startShortLived = async (
    s: ContainerInstanceSpec,
  ): Promise<{ status: InstanceStatus | undefined; message: string; log: string }> => {
    const name = `gw-${s.stack}-${s.id}`;
    const readLog = async () => (await client.containerLogs(name)).map((f) => f.payload.toString()).join('');
    return driver.start(s).then(
      async (h) => {
        started.push(h);
        return { status: await waitForEnd(h), message: '', log: await readLog() };
      },
      async (e: Error) => ({ status: undefined, message: e.message, log: await readLog() }),
    );
  };

  it('an instance that ends at once fails start (or ends just after) with its exit code; its container stays for its log until the next start', async () => {
    const quick = await startShortLived(spec('echo "cannot open config TOKEN=s3cret"; exit 7'));
    if (quick.status) expect(quick.status).toEqual({ state: 'exited', exitCode: 7, signal: null });
    else
      expect(quick.message).toMatch(
        /^service svc instance 0 exited with code 7 at once; its output: docker logs gw-\S+$/,
      );
    expect(quick.message).not.toContain('s3cret');
    expect(quick.log).toContain('cannot open config');
    // The container's init (tini) execs the command, so a missing binary is reported by it, with code 127.
    const missing = await startShortLived(spec('', { args: ['/no/such/binary'], index: 1 }));
    if (missing.status) expect(missing.status).toEqual({ state: 'exited', exitCode: 127, signal: null });
    else expect(missing.message).toMatch(/exited with code 127 at once/);
    expect(missing.log).toMatch(/exec \/no\/such\/binary failed/);
    expect(await client.listContainers([`${LABEL.owner}=${owner}`])).toHaveLength(2);
    // A new start of index 0 and 1 removes the ended containers of those indexes; nothing running is touched.
    started.length = 0;
    const again = await start('exec sleep 300', { index: 0 });
    await start('exec sleep 300', { index: 1 });
    expect((await client.listContainers([`${LABEL.owner}=${owner}`])).map((c) => c.State)).toEqual([
      'running',
      'running',
    ]);
    expect(await driver.inspect(again)).toEqual({ state: 'running', pid: pidOf(again) });
  });

  it('a missing image is a clear error (no pull when pulling is off)', async () => {
    const noPull = new DockerDriver({ client, owner, pull: false });
    await expect(noPull.start(spec('true', { image: 'groundwork-no-such-image:1' }))).rejects.toThrow(
      /image groundwork-no-such-image:1 is not on this machine; build it/,
    );
    await expect(driver.start(spec('true', { image: undefined }))).rejects.toThrow(/runtime docker needs an image/);
  });

  it("runs as the given user: numeric ids pass through, names are this host's users", async () => {
    const a = await start('echo "uid=$(id -u) gid=$(id -g)"; exec sleep 300', { user: '1234:2345' });
    await waitForLog(a, 'uid=1234 gid=2345');
    const b = await start('echo "uid=$(id -u)"; exec sleep 300', { user: 'nobody' });
    await waitForLog(b, 'uid=65534');
  });

  it('bind mounts host directories, read-write and read-only', async () => {
    const data = path.join(dir, 'data');
    const conf = path.join(dir, 'conf');
    mkdirSync(data);
    mkdirSync(conf);
    writeFileSync(path.join(conf, 'app.conf'), 'answer=42\n');
    const h = await start(
      'echo hello > /data/out.txt; cat /etc/app/app.conf; echo x > /etc/app/new 2>/dev/null || echo "read-only ok"; exec sleep 300',
      {
        mounts: [
          { source: data, target: '/data' },
          { source: conf, target: '/etc/app', readOnly: true },
        ],
      },
    );
    await waitForLog(h, 'read-only ok');
    expect(await driver.logs(h, { lines: 10 })).toContain('answer=42');
    expect(readFileSync(path.join(data, 'out.txt'), 'utf8')).toBe('hello\n');
    await expect(
      driver.start(spec('true', { mounts: [{ source: path.join(dir, 'absent'), target: '/x' }] })),
    ).rejects.toThrow(/mount source .*absent .*does not exist/);
  });

  it('stats count CPU time as it is used', async () => {
    const h = await start('echo spinning; while :; do :; done', { cpuCores: 1 });
    await waitForLog(h, 'spinning');
    const first = await driver.stats(h);
    const later = await waitFor(
      async () => {
        const s = await driver.stats(h);
        return s && first && s.cpuSeconds > first.cpuSeconds + 0.2 ? s : undefined;
      },
      { what: 'CPU time to grow' },
    );
    expect(later.rssBytes).toBeGreaterThan(0);
  });

  it('builds an image from a Dockerfile (context honours .dockerignore), streaming progress, and runs it', async () => {
    const ctx = path.join(dir, 'release');
    mkdirSync(path.join(ctx, 'app'), { recursive: true });
    writeFileSync(path.join(ctx, 'app', 'hello.txt'), 'hello from the release\n');
    writeFileSync(path.join(ctx, 'secret.env'), 'TOKEN=do-not-ship\n');
    writeFileSync(path.join(ctx, '.dockerignore'), '*.env\n');
    writeFileSync(
      path.join(ctx, 'Dockerfile.web'),
      [
        `FROM ${TEST_IMAGE}`,
        'COPY . /srv/',
        'WORKDIR /srv',
        'CMD ["sh", "-c", "cat app/hello.txt; ls /srv; exec sleep 300"]',
        '',
      ].join('\n'),
    );
    const tag = `groundwork-test-build:${run}`;
    images.push(tag);
    const progress: string[] = [];
    const built = await driver.buildImage({
      contextDir: ctx,
      dockerfile: 'Dockerfile.web',
      tag,
      labels: { [RUN_LABEL]: run },
      onProgress: (l) => progress.push(l),
    });
    expect(built.id).toMatch(/^sha256:/);
    expect(progress.some((l) => /Step 1\/\d+ : FROM/.test(l))).toBe(true);
    const h = await start('', { image: tag });
    // `ls` prints after `cat`: wait for its line, so the log read below holds both.
    await waitForLog(h, 'Dockerfile.web');
    const log = await driver.logs(h, { lines: 20 });
    expect(log).toContain('hello from the release');
    expect(log).toContain('Dockerfile.web');
    expect(log).not.toContain('secret.env');
    await expect(driver.buildImage({ contextDir: ctx, dockerfile: 'Nope', tag })).rejects.toThrow(/no Nope in/);
    writeFileSync(path.join(ctx, 'Dockerfile.bad'), `FROM ${TEST_IMAGE}\nRUN exit 3\n`);
    await expect(
      driver.buildImage({ contextDir: ctx, dockerfile: 'Dockerfile.bad', tag: `${tag}-bad` }),
    ).rejects.toThrow(/returned a non-zero code: 3/);
  });

  it('figures: start-to-healthy of one container, and a 3-replica deploy (sequential, each healthy)', async () => {
    const base = await freePortRun(4);
    const serve = (port: number) =>
      `mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /tmp/www`;
    const healthy = (port: number) =>
      waitFor(async () => (await httpGet(port, '/')).status === 200, {
        what: `port ${port} healthy`,
        intervalMs: 5,
        retryOn: connectionNotReady,
      });

    const t0 = performance.now();
    await start(serve(base), { ports: { http: base } });
    await healthy(base);
    const single = performance.now() - t0;

    const t1 = performance.now();
    for (let i = 1; i <= 3; i++) {
      await start(serve(base + i), { ports: { http: base + i }, index: i });
      await healthy(base + i);
    }
    const three = performance.now() - t1;
    console.log(
      `[figure] docker: container start-to-healthy ${single.toFixed(0)} ms; 3-replica deploy (sequential, each healthy) ${three.toFixed(0)} ms`,
    );
    expect(statSync(dir).isDirectory()).toBe(true);
  });
});
