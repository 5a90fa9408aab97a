/**
 * The first release is one you can return to: apply records v1 running from the stack directory
 * and keeps a copy of that code, so after a deploy of v2 (and the working tree moving on),
 * `rollback --to v1` runs v1's code again, as the README's walk-through does.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliOk } from '../helpers/cli.js';
import { httpGet } from '../helpers/http.js';
import { teardownStack } from '../helpers/lab.js';
import { writeServer } from '../helpers/lab-daemon.js';
import { writeStack } from '../helpers/stack-file.js';
import { httpPortsOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('rollback to the release apply recorded', () => {
  let dir = '';
  beforeEach(() => {
    dir = makeTempDir('rollback-v1');
    writeStack(dir, {
      stack: 'back',
      services: {
        web: {
          command: 'node',
          args: ['server.mjs'],
          ports: { http: 'auto' },
          env: { PORT: '${port.http}' },
          health: { http: { path: '/healthz' }, interval: '300ms', timeout: '1s' },
          stop_grace: '2s',
        },
      },
    });
  });
  afterEach(async () => {
    const t = await teardownStack(dir, 'back');
    removeTempDir(dir);
    expect(t.leftovers).toBe(0);
  });

  const answers = async () => {
    const out: string[] = [];
    for (const p of httpPortsOf(dir, 'web')) out.push((await httpGet(p, '/')).body.split(' ')[0] ?? '');
    return out;
  };

  it('runs v1 code again after a deploy of v2 and an edit of the working tree', async () => {
    writeServer(dir, 'b1');
    await runCliOk(['apply', '-m', 'v1'], { cwd: dir });
    expect(await answers()).toEqual(['b1']);
    writeServer(dir, 'b2');
    await runCliOk(['deploy', 'web', '-m', 'v2'], { cwd: dir });
    expect(await answers()).toEqual(['b2']);
    writeServer(dir, 'b3-not-deployed');
    const back = await runCliOk(['rollback', 'web', '--to', 'v1'], { cwd: dir });
    expect(back.stdout + back.stderr).not.toContain('refused');
    expect(await answers()).toEqual(['b1']);
    const releases = JSON.parse((await runCliOk(['releases', 'web', '--json'], { cwd: dir })).stdout) as {
      current: number | null;
    };
    expect(releases.current).toBe(1);
  });
});
