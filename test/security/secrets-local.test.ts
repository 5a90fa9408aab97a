/**
 * Encrypted secrets without a daemon: apply, restart and rollback run in the CLI's own process,
 * which decrypts with the installation's identity. A restart keeps the version the spec names
 * (a newer version set meanwhile waits for apply); a rollback runs the release with its version;
 * a deploy's build log is redacted.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../helpers/cli.js';
import { teardownStack } from '../helpers/lab.js';
import { tryEnviron } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const STACK = 'seclocal';
/** A build that prints a secret value it got some other way (hex-encoded here, so the stack file does not hold it). */
const BUILD = `console.log('built with ' + Buffer.from('${Buffer.from('first-value-1111').toString('hex')}', 'hex').toString());
`;
const SCRIPT = `console.log('started with ' + process.env.TOKEN); setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
`;

async function setSecret(dir: string, value: string): Promise<void> {
  let err = '';
  const io: CliIo = {
    stdout: () => undefined,
    stderr: (t) => void (err += t),
    env: { PATH: process.env.PATH, NO_COLOR: '1', GROUNDWORK_AUTHOR: 'tester' },
    cwd: dir,
    isTty: false,
    readSecret: async () => value,
  };
  expect(await run(['secret', 'set', 'api-token'], io), err).toBe(0);
}

describe('encrypted secrets without a daemon', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('secrets-local');
    writeFileSync(path.join(dir, 'svc.mjs'), SCRIPT);
    writeFileSync(path.join(dir, 'build.mjs'), BUILD);
  });
  afterEach(async () => {
    try {
      await teardownStack(dir, STACK);
    } finally {
      removeTempDir(dir);
    }
  });

  it('apply, restart (same version), apply (new version) and rollback (old version)', async () => {
    const init = await runCli(['secret', 'init', '--json'], { cwd: dir });
    const key = (JSON.parse(init.stdout) as { recipient: string }).recipient;
    writeFileSync(
      path.join(dir, 'groundwork.yaml'),
      `stack: ${STACK}\nsecrets: { api-token: {} }\nsecret_recipients: { here: ${key} }\nservices:\n  svc:\n    command: node svc.mjs\n    build: { command: "node build.mjs" }\n    env: { TOKEN: "\${secret.api-token}" }\n    stop_grace: 1s\n`,
    );
    const pid = async () => {
      const s = JSON.parse((await runCli(['status', '--json'], { cwd: dir })).stdout) as {
        services: { instances: { pid: number }[] }[];
      };
      return s.services[0]?.instances[0]?.pid ?? 0;
    };
    await setSecret(dir, 'first-value-1111');
    let r = await runCli(['apply'], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(tryEnviron(await pid())?.TOKEN).toBe('first-value-1111');

    await setSecret(dir, 'second-value-2222');
    r = await runCli(['restart', 'svc'], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(tryEnviron(await pid())?.TOKEN, 'a restart keeps the applied version').toBe('first-value-1111');

    r = await runCli(['apply'], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(tryEnviron(await pid())?.TOKEN).toBe('second-value-2222');

    r = await runCli(['rollback', 'svc'], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(tryEnviron(await pid())?.TOKEN, 'the release before ran with version 1').toBe('first-value-1111');

    // A deploy's build output is redacted in the build log too.
    r = await runCli(['deploy', 'svc'], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const buildLogs = readdirSync(path.join(dir, '.groundwork', 'releases', 'svc')).filter((f) =>
      f.endsWith('.build.log'),
    );
    expect(buildLogs.length).toBeGreaterThan(0);
    const built = buildLogs
      .map((f) => readFileSync(path.join(dir, '.groundwork', 'releases', 'svc', f), 'utf8'))
      .join('');
    expect(built).toContain('built with [secret:api-token]');
    expect(built).not.toContain('first-value-1111');

    const logs = await runCli(['logs', 'svc'], { cwd: dir });
    expect(logs.stdout).toContain('started with [secret:api-token]');
    expect(logs.stdout).not.toMatch(/first-value|second-value/);
  });
});
