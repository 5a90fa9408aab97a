/** `groundwork secret rotate` is a change on the record: kind rotate, author, reason; never the value. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, runCliOk } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('secret rotation on the record', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('rotation');
  });
  afterAll(() => removeTempDir(dir));

  it('records who rotated which secret and why, and no value', async () => {
    const opts = { cwd: dir, env: { GROUNDWORK_AUTHOR: 'olga' } };
    const key = jsonOf<{ recipient: string }>(await runCliOk(['secret', 'init', '--json'], opts)).recipient;
    writeFileSync(
      path.join(dir, 'groundwork.yaml'),
      `stack: rotation\nsecrets: { db-password: {} }\nsecret_recipients: { here: ${key} }\n`,
    );
    const value = 'canary-rotation-value-4711';
    writeFileSync(path.join(dir, 'v1'), 'first-value-0000-0000\n');
    writeFileSync(path.join(dir, 'v2'), `${value}\n`);
    await runCliOk(['secret', 'set', 'db-password', '--from-file', 'v1'], opts);
    await runCliOk(['secret', 'rotate', 'db-password', '--from-file', 'v2', '-m', 'quarterly rotation'], opts);
    const history = await runCliOk(['history', '--json'], opts);
    expect(history.stdout).not.toContain(value);
    const [last] = jsonOf<{ kind: string; author: string; message: string; outcome: string }[]>(history);
    expect(last).toMatchObject({ kind: 'rotate', author: 'olga', message: 'quarterly rotation', outcome: 'applied' });
    await runCliOk(['secret', 'rotate', 'db-password', '--generate'], opts);
    const [next] = jsonOf<{ message: string }[]>(await runCliOk(['history', '--json'], opts));
    expect(next?.message).toBe('rotate secret db-password to version 3');
  });
});
