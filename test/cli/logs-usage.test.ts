/**
 * `groundwork logs` says what is wrong instead of printing nothing: an instance the service does
 * not have, a service that is not there, a --since it cannot read (a usage error, exit 2).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, runCliOk } from '../helpers/cli.js';
import { teardownStack } from '../helpers/lab.js';
import { httpService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('groundwork logs, told something it cannot answer', () => {
  let dir = '';
  beforeEach(async () => {
    dir = makeTempDir('logs-usage');
    writeServiceScript(dir);
    writeStack(dir, { stack: 'logs', services: { web: httpService({ replicas: 2 }) } });
    await runCliOk(['apply'], { cwd: dir });
  });
  afterEach(async () => {
    const t = await teardownStack(dir, 'logs');
    removeTempDir(dir);
    expect(t.leftovers).toBe(0);
  });

  it('names the instances a service has, the services there are, and rejects a bad --since with exit 2', async () => {
    const nine = await runCli(['logs', 'web', '--instance', '9'], { cwd: dir });
    expect(nine.code).toBe(1);
    expect(nine.stderr).toContain('web has no instance 9: it has 2 (0, 1)');
    const ok = await runCli(['logs', 'web', '--instance', '1'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    const other = await runCli(['logs', 'nosuch'], { cwd: dir });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('there is no applied service `nosuch`');
    expect(other.stderr).toContain('applied services: web');
    const since = await runCli(['logs', 'web', '--since', 'garbage'], { cwd: dir });
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('since must be a duration (10m) or a timestamp, found "garbage"');
  });
});
