/**
 * `groundwork state check|backup|backups|restore`: the state store's health and its backups.
 * A backup is taken after every change (10 kept, in .groundwork/backups); restore puts one back
 * and keeps the damaged file beside it.
 */
import path from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { backupDirOf, backupName, checkStoreFile, listBackups, restoreBackup } from '../../store/sqlite/store-files.js';
import { systemClock } from '../../util/clock.js';
import { errorMessage } from '../../util/error-message.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { tryConnect } from '../daemon-client.js';
import { EXIT, UsageError, UserError } from '../io.js';
import { stateDirOf } from '../workspace.js';

const ACTIONS = ['check', 'backup', 'backups', 'restore'] as const;

export const stateCommand = defineCommand({
  name: 'state',
  args: ['ACTION', 'BACKUP'],
  summary: 'Check the state store, back it up, list backups, restore one',
  usage: 'state check | backup [--out FILE] | backups | restore [BACKUP] [--json]',
  flags: {
    ...STACK_FLAGS,
    out: { type: 'string', description: 'backup: where to write it (default .groundwork/backups/)', valueName: 'FILE' },
  },
  async run(flags, pos, io) {
    const [action, ...rest] = pos;
    if (!action || !(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`\`groundwork state\` needs one of ${ACTIONS.join(', ')}, e.g. \`groundwork state check\``);
    const extra = action === 'restore' ? rest.slice(1) : rest;
    if (extra.length) throw new UsageError(`unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.join(' ')}`);
    const stateDir = stateDirOf(io, flags);
    const file = path.join(stateDir, 'state.db');
    const out = (json: unknown, text: string) => io.stdout(flags.json ? `${JSON.stringify(json, null, 2)}\n` : text);

    if (action === 'check') {
      const r = checkStoreFile(file);
      const last = listBackups(file)[0];
      if (r.ok) {
        out(
          { file, ok: true, lastBackup: last ?? null },
          `${file}: ok${last ? ` (last backup: serial ${last.serial}, ${last.takenAt})` : ''}\n`,
        );
        return EXIT.ok;
      }
      out(
        { file, ok: false, problem: r.problem, lastBackup: last ?? null },
        `${file} is damaged: ${r.problem}\n${last ? `The last good backup is ${last.file} (serial ${last.serial}, ${last.takenAt}); \`groundwork state restore\` puts it in place.\n` : 'There is no backup of it.\n'}`,
      );
      return EXIT.failed;
    }

    if (action === 'backups') {
      const list = listBackups(file);
      if (flags.json) io.stdout(`${JSON.stringify(list, null, 2)}\n`);
      else if (list.length === 0)
        io.stdout(`No backups in ${backupDirOf(file)} yet; one is taken after every change.\n`);
      else
        for (const b of list)
          io.stdout(`${b.takenAt}  serial ${String(b.serial).padEnd(6)} ${String(b.bytes).padStart(9)} B  ${b.file}\n`);
      return EXIT.ok;
    }

    if (action === 'backup') {
      let store: SqliteStore;
      try {
        store = SqliteStore.open(file, systemClock, { check: true });
      } catch (e) {
        throw new UserError(`cannot back up ${file}: ${errorMessage(e)}`);
      }
      try {
        const serial = await store.resources.serial();
        const dest = flags.out
          ? path.resolve(io.cwd, flags.out)
          : path.join(backupDirOf(file), backupName(serial, systemClock.now()));
        store.backupTo(dest);
        out({ file: dest, serial }, `Backed up state serial ${serial} to ${dest}\n`);
        return EXIT.ok;
      } finally {
        await store.close();
      }
    }

    // restore
    if (tryConnect(stateDir))
      throw new UserError(
        'a daemon runs for this stack; stop it first (`groundwork down`, or Ctrl-C on `groundwork up`)',
        EXIT.refused,
      );
    const wanted = rest[0];
    const backup = wanted ? path.resolve(io.cwd, wanted) : listBackups(file)[0]?.file;
    if (!backup)
      throw new UserError(`there is no backup in ${backupDirOf(file)}; name one: \`groundwork state restore FILE\``);
    let kept: string | undefined;
    try {
      kept = restoreBackup(file, backup, systemClock.now()).keptAs;
    } catch (e) {
      throw new UserError(`cannot restore ${backup}: ${errorMessage(e)}`);
    }
    out(
      { restored: backup, keptDamagedAs: kept ?? null },
      `Restored ${backup} as ${file}.${kept ? ` The previous file is kept as ${kept}.` : ''}\nRun \`groundwork refresh\` to record what runs now, then \`groundwork plan\`.\n`,
    );
    return EXIT.ok;
  },
});
