/**
 * `groundwork exec SERVICE [--instance N] -- CMD`: the command runs with the environment and
 * working directory of the instance (as started: secrets and ports included), its output and exit
 * code are the command's; a missing instance or service is named.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, runCliOk } from '../helpers/cli.js';
import { nodeService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { instancesOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('groundwork exec', () => {
  let dir = '';
  beforeEach(() => {
    dir = makeTempDir('exec');
    writeServiceScript(dir);
    mkdirSync(path.join(dir, 'work'));
    writeStack(dir, {
      stack: 'exec',
      services: {
        web: nodeService('exec-test', {
          replicas: 2,
          args: ['../server.mjs', 'exec-test'],
          cwd: 'work',
          env: { MESSAGE: 'hello-from-web' },
        }),
      },
    });
  });
  afterEach(async () => {
    await runCli(['destroy', '--auto-approve'], { cwd: dir });
    removeTempDir(dir);
  });

  it("runs in the instance's environment and folder, with the command's output and exit code", async () => {
    await runCliOk(['apply', '-y'], { cwd: dir });
    const ports = instancesOf(dir, 'web').map((i) => i.ports.http);
    const r = await runCliOk(
      ['exec', 'web', '--instance', '1', '--', 'sh', '-c', 'echo "$MESSAGE $PORT $GROUNDWORK_INSTANCE"; pwd'],
      {
        cwd: dir,
      },
    );
    expect(r.stdout).toBe(`hello-from-web ${ports[1]} 1\n${realpathSync(path.join(dir, 'work'))}\n`);
    const first = await runCliOk(['exec', 'web', '--', 'sh', '-c', 'echo $PORT'], { cwd: dir });
    expect(first.stdout.trim()).toBe(String(ports[0]));

    const failed = await runCli(['exec', 'web', '--', 'sh', '-c', 'echo oops >&2; exit 7'], { cwd: dir });
    expect(failed).toMatchObject({ code: 7, stderr: 'oops\n' });

    const missing = await runCli(['exec', 'web', '--instance', '9', '--', 'true'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('web has no instance 9: it has 2 (0, 1)');
    const unknown = await runCli(['exec', 'nope', '--', 'true'], { cwd: dir });
    expect(unknown.stderr).toContain('service `nope` is not applied (applied: web)');
    const noCmd = await runCli(['exec', 'web'], { cwd: dir });
    expect(noCmd.code).toBe(2);
  });
});
