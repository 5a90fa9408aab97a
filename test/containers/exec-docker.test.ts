/**
 * `groundwork exec` on `runtime: docker`: the command runs in the instance's container (`docker
 * exec`), sees the container's environment (the service's env and GROUNDWORK_INSTANCE of the
 * chosen instance), and its output and exit code are the command's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, runCliOk } from '../helpers/cli.js';
import { describeWithEngine, findEngine, TEST_IMAGE } from '../helpers/docker.js';
import { teardownStack } from '../helpers/lab.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const engine = await findEngine();

describeWithEngine('groundwork exec on runtime docker', engine, () => {
  let dir = '';
  const stack = `ex${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    dir = makeTempDir('exec-docker');
    writeStack(dir, {
      stack,
      services: {
        web: {
          runtime: 'docker',
          image: TEST_IMAGE,
          replicas: 2,
          command: 'exec httpd -f -p 127.0.0.1:${port.http} -h /',
          ports: { http: 'auto' },
          env: { MESSAGE: 'hello-from-a-container' },
          stop_grace: '1s',
        },
      },
    });
    await runCliOk(['apply', '-y'], { cwd: dir });
  }, 120_000);

  afterAll(async () => {
    const t = await teardownStack(dir, stack);
    removeTempDir(dir);
    expect(t.leftovers).toBe(0);
  }, 120_000);

  it("runs in the instance's container with its environment; output and exit code are the command's", async () => {
    const first = await runCliOk(['exec', 'web', '--', 'sh', '-c', 'echo "$MESSAGE $GROUNDWORK_INSTANCE"'], {
      cwd: dir,
    });
    expect(first.stdout).toBe('hello-from-a-container 0\n');
    const second = await runCliOk(['exec', 'web', '--instance', '1', '--', 'sh', '-c', 'echo $GROUNDWORK_INSTANCE'], {
      cwd: dir,
    });
    expect(second.stdout).toBe('1\n');
    // Inside the container, not on the host: its pid 1 is Docker's init or the service's httpd.
    const init = await runCliOk(['exec', 'web', '--', 'cat', '/proc/1/comm'], { cwd: dir });
    expect(init.stdout).toMatch(/^(docker-init|httpd)\n$/);

    const failed = await runCli(['exec', 'web', '--', 'sh', '-c', 'echo to-stderr >&2; exit 7'], { cwd: dir });
    expect(failed).toMatchObject({ code: 7, stdout: '' });
    expect(failed.stderr).toContain('to-stderr');

    const missing = await runCli(['exec', 'web', '--instance', '5', '--', 'true'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('web has no instance 5: it has 2 (0, 1)');
  });
});
