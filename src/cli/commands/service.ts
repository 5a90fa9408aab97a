/**
 * `groundwork service install|uninstall|print`: run the daemon at boot under systemd.
 *
 * The unit runs `groundwork up` for one stack file and state directory. `KillMode=process`:
 * stopping or restarting the unit stops only the daemon, as Ctrl-C on `up` does; the services
 * and the data plane keep running and the next start adopts them (DESIGN: services outlive the
 * daemon). Without it systemd would kill the whole control group, services included.
 *
 *   groundwork service print                 # the unit, to read first
 *   sudo groundwork service install          # /etc/systemd/system/groundwork-STACK.service
 *   groundwork service install --user        # ~/.config/systemd/user/ (starts at login; linger for boot)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack } from '../../config/load.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError, type CliIo } from '../io.js';
import { stackFileOf, stateDirOf } from '../workspace.js';

const ACTIONS = ['install', 'uninstall', 'print'] as const;
type Action = (typeof ACTIONS)[number];

/** The compiled CLI: systemd runs node on a file, never on TypeScript sources. */
function cliEntry(): string {
  const here = fileURLToPath(new URL('../main.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new UserError(`the compiled CLI (${built}) does not exist; run \`npm run build\` first`);
}

/** One ExecStart word, quoted the way systemd reads it (systemd.service(5), "Command lines"). */
function systemdWord(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s.replace(/%/g, '%%');
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

export interface UnitInput {
  stack: string;
  stackFile: string;
  stateDir: string;
  node: string;
  cli: string;
  /** Run as this user (system units only); the daemon needs root for `user:` services. */
  runAs: string | null;
  scope: 'system' | 'user';
  listen: string | null;
}

export function unitText(u: UnitInput): string {
  const exec = [u.node, u.cli, 'up', '-f', u.stackFile, '--state-dir', u.stateDir];
  if (u.listen) exec.push('--listen', u.listen);
  return [
    '# Written by `groundwork service install`; regenerate rather than edit.',
    '[Unit]',
    `Description=Groundwork daemon for stack ${u.stack}`,
    'Documentation=https://github.com/groundwork/groundwork#the-daemon',
    ...(u.scope === 'system' ? ['Wants=network-online.target', 'After=network-online.target docker.service'] : []),
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec.map(systemdWord).join(' ')}`,
    // A path setting, not a command line: taken to the end of the line, unquoted (only % is special).
    `WorkingDirectory=${path.dirname(u.stackFile).replace(/%/g, '%%')}`,
    ...(u.runAs && u.scope === 'system' ? [`User=${u.runAs}`] : []),
    // Services and the data plane outlive the daemon; only the daemon stops with the unit.
    'KillMode=process',
    'Restart=on-failure',
    'RestartSec=5s',
    'TimeoutStopSec=30s',
    '',
    '[Install]',
    `WantedBy=${u.scope === 'system' ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n');
}

function unitDir(scope: 'system' | 'user', env: CliIo['env']): string {
  if (scope === 'system') return '/etc/systemd/system';
  const config = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(config, 'systemd', 'user');
}

function systemctl(scope: 'system' | 'user', args: string[]): string | null {
  try {
    execFileSync('systemctl', [...(scope === 'user' ? ['--user'] : []), ...args], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
  }
}

export const serviceCommand = defineCommand({
  name: 'service',
  args: ['ACTION'],
  summary: 'Run the daemon at boot: install (or uninstall, print) a systemd unit for this stack',
  usage: 'service install|uninstall|print [--user] [--run-as USER] [--listen HOST:PORT] [--out FILE]',
  flags: {
    ...STACK_FLAGS,
    user: { type: 'boolean', description: 'A user unit (~/.config/systemd/user) instead of a system one' },
    'run-as': { type: 'string', description: 'System unit: run the daemon as this user', valueName: 'USER' },
    listen: { type: 'string', description: "The daemon's API address (default loopback)", valueName: 'HOST:PORT' },
    out: {
      type: 'string',
      description: 'Write the unit to this file instead of the systemd folder',
      valueName: 'FILE',
    },
  },
  async run(flags, pos, io) {
    const action = pos[0] as Action | undefined;
    if (!action || !ACTIONS.includes(action))
      throw new UserError(
        `${action ? `unknown action \`${action}\`` : 'an action is needed'}: groundwork service install|uninstall|print`,
        EXIT.usage,
      );
    const scope = flags.user ? 'user' : 'system';
    const stackFile = stackFileOf(io, flags);
    const loaded = await loadStack(stackFile);
    if (!loaded.config)
      throw new UserError(
        `${stackFile} has problems; \`groundwork validate\` lists them. Fix them before installing the unit`,
      );
    const stack = loaded.config.stack;
    const name = `groundwork-${stack}.service`;
    const file = flags.out ? path.resolve(io.cwd, flags.out) : path.join(unitDir(scope, io.env), name);
    if (action === 'uninstall') {
      if (!existsSync(file)) throw new UserError(`${file} does not exist: nothing to uninstall`);
      if (!flags.out) systemctl(scope, ['disable', '--now', name]);
      rmSync(file);
      if (!flags.out) systemctl(scope, ['daemon-reload']);
      io.stdout(flags.json ? `${JSON.stringify({ removed: file })}\n` : `Removed ${file}.\n`);
      return EXIT.ok;
    }
    const text = unitText({
      stack,
      stackFile,
      stateDir: stateDirOf(io, flags),
      node: process.execPath,
      cli: cliEntry(),
      runAs: flags['run-as'] ?? null,
      scope,
      listen: flags.listen ?? null,
    });
    if (action === 'print') {
      io.stdout(flags.json ? `${JSON.stringify({ unit: name, text })}\n` : text);
      return EXIT.ok;
    }
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text, { mode: 0o644 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(
        code === 'EACCES' || code === 'EPERM'
          ? `cannot write ${file}: permission denied; run \`sudo groundwork service install\`, or \`groundwork service install --user\` for a user unit`
          : `cannot write ${file}: ${(e as Error).message}`,
      );
    }
    const reload = flags.out ? null : systemctl(scope, ['daemon-reload']);
    const u = scope === 'user' ? ' --user' : '';
    if (flags.json) io.stdout(`${JSON.stringify({ unit: name, file, reloaded: !flags.out && reload === null })}\n`);
    else
      io.stdout(
        [
          `Wrote ${file}.`,
          ...(reload === null || flags.out ? [] : [`systemctl${u} daemon-reload failed (${reload}); run it yourself.`]),
          `Start it now and at every boot: systemctl${u} enable --now ${name}`,
          `Its log: journalctl${u} -u ${name}`,
          ...(scope === 'user'
            ? [`For a user unit to start at boot (not at login): loginctl enable-linger ${os.userInfo().username}`]
            : []),
          '',
        ].join('\n'),
      );
    return EXIT.ok;
  },
});
