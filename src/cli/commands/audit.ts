/**
 * `groundwork audit [list] | verify | export`: the audit log in the state store. `verify`
 * recomputes its hash chain and names every entry that was edited, deleted or moved (exit 1);
 * `export` writes JSON lines with the chain fields, to keep a copy elsewhere.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuditLog, type AuditRecord } from '../../security/audit.js';
import { systemClock } from '../../util/clock.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UsageError } from '../io.js';
import { openStore, stateDirOf } from '../workspace.js';

const ACTIONS = ['list', 'verify', 'export'] as const;

function line(e: AuditRecord): string {
  const who = e.user ? `${e.user} (${e.token})` : (e.token ?? 'no token');
  return `#${String(e.seq).padEnd(5)} ${e.at.slice(0, 19).replace('T', ' ')}  ${e.decision.padEnd(7)} ${String(e.status).padEnd(4)} ${who.padEnd(24)} ${e.method} ${e.path}${e.service ? `  [${e.service}]` : ''}${e.reason ? `  ${e.reason}` : ''}  from ${e.remote}\n`;
}

export const auditCommand = defineCommand({
  name: 'audit',
  args: ['ACTION'],
  summary: 'List, verify (hash chain) or export the audit log',
  usage: 'audit [list] [--limit N] [--json] | verify [--json] | export [--out FILE]',
  flags: {
    ...STACK_FLAGS,
    limit: { type: 'number', description: 'list: the newest N entries (default 50)', valueName: 'N' },
    out: { type: 'string', description: 'export: write JSON lines here (default: stdout)', valueName: 'FILE' },
  },
  async run(flags, pos, io) {
    const action = pos[0] ?? 'list';
    if (!(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`\`groundwork audit\` takes one of ${ACTIONS.join(', ')} (found \`${action}\`)`);
    const store = openStore(stateDirOf(io, flags));
    try {
      const log = new AuditLog(store.audit, systemClock);
      if (action === 'verify') {
        const v = await log.verify();
        if (flags.json) io.stdout(`${JSON.stringify(v, null, 2)}\n`);
        else if (v.ok) io.stdout(`The audit log is intact: ${v.entries} entries, chain verified.\n`);
        else {
          io.stdout(`The audit log was tampered with (${v.problems.length} problem(s) in ${v.entries} entries):\n`);
          for (const p of v.problems) io.stdout(`  ${p.message}\n`);
        }
        return v.ok ? EXIT.ok : EXIT.failed;
      }
      if (action === 'export') {
        const text = (await log.list()).map((e) => `${JSON.stringify(e)}\n`).join('');
        if (flags.out) {
          const file = path.resolve(io.cwd, flags.out);
          writeFileSync(file, text, { mode: 0o600 });
          io.stderr(`Wrote ${text === '' ? 0 : text.split('\n').length - 1} entries to ${file}.\n`);
        } else io.stdout(text);
        return EXIT.ok;
      }
      const limit = flags.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError(`--limit needs a positive whole number (found ${limit})`);
      const head = await store.audit.auditHead();
      const entries = await log.list(Math.max(0, (head?.seq ?? 0) - limit));
      if (flags.json) io.stdout(`${JSON.stringify(entries, null, 2)}\n`);
      else if (entries.length === 0) io.stdout('The audit log is empty.\n');
      else for (const e of entries) io.stdout(line(e));
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
});
