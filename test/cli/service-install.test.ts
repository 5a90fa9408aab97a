/**
 * `groundwork service install` writes a systemd unit that systemd accepts: checked with
 * `systemd-analyze verify` (Debian package `systemd`), also for a stack folder whose path has a
 * space; `print` shows the same unit, `uninstall` removes it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, runCliOk } from '../helpers/cli.js';
import { CLI_MAIN, ensureBuilt } from '../helpers/dist.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('groundwork service install', () => {
  let dir = '';
  let stackDir = '';
  beforeEach(() => {
    ensureBuilt();
    dir = makeTempDir('unit');
    stackDir = path.join(dir, 'my lab');
    mkdirSync(stackDir);
    writeStack(stackDir, { stack: 'homelab', volumes: { data: { path: './data' } } });
  });
  afterEach(() => removeTempDir(dir));

  it('writes a unit that runs `up` for this stack and keeps services running when it stops', async () => {
    const out = path.join(dir, 'groundwork-homelab.service');
    const r = await runCliOk(['service', 'install', '--out', out, '--run-as', 'root'], { cwd: stackDir });
    expect(r.stdout).toContain('systemctl enable --now groundwork-homelab.service');
    const unit = readFileSync(out, 'utf8');
    const stackFile = path.join(stackDir, 'groundwork.yaml');
    expect(unit).toContain(
      `ExecStart=${process.execPath} ${CLI_MAIN} up -f "${stackFile}" --state-dir "${path.join(stackDir, '.groundwork')}"`,
    );
    expect(unit).toContain('KillMode=process');
    expect(unit).toContain('User=root');
    expect(unit).toContain('WantedBy=multi-user.target');
    if (hasAnalyze) {
      // Exit 0 and nothing on stderr: systemd read every line and found the executable.
      const v = spawnSync('systemd-analyze', ['verify', out], { encoding: 'utf8' });
      expect(v.stderr.split('\n').filter((l) => l.includes(out) || l.includes('groundwork-homelab'))).toEqual([]);
      expect(v.status).toBe(0);
    } else {
      // Without systemd-analyze: every line is a section, a comment, blank or KEY=VALUE.
      for (const line of unit.split('\n')) expect(line).toMatch(/^(\[[A-Za-z]+\]|#.*|[A-Za-z]+=.+|)$/);
    }
    // `print` shows what install writes.
    expect((await runCliOk(['service', 'print', '--run-as', 'root'], { cwd: stackDir })).stdout).toBe(unit);

    await runCliOk(['service', 'uninstall', '--out', out], { cwd: stackDir });
    expect(existsSync(out)).toBe(false);
  });

  it('a user unit starts with the login session; a bad action is a usage error', async () => {
    const home = path.join(dir, 'home');
    const r = await runCliOk(['service', 'install', '--user'], {
      cwd: stackDir,
      env: { HOME: home, XDG_CONFIG_HOME: undefined },
    });
    const file = path.join(home, '.config', 'systemd', 'user', 'groundwork-homelab.service');
    expect(readFileSync(file, 'utf8')).toContain('WantedBy=default.target');
    expect(r.stdout).toContain('loginctl enable-linger');
    const bad = await runCli(['service', 'start'], { cwd: stackDir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown action `start`');
  });
});
