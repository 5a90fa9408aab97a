import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatDiagnostic, hasErrors } from '../../config/diagnostic.js';
import { loadStack } from '../../config/load.js';
import { formatReport, importCompose } from '../../compose/import-compose.js';
import { parseArgs, helpText } from '../args.js';
import type { Command } from '../command.js';
import { EXIT, UsageError, UserError, type CliIo } from '../io.js';

const FLAGS = {
  file: { type: 'list', short: 'f', description: 'Compose file (repeatable; merged in order)', valueName: 'FILE' },
  out: {
    type: 'string',
    description: 'Directory to write groundwork.yaml into (default: current directory)',
    valueName: 'DIR',
  },
  'project-name': {
    type: 'string',
    description: 'Stack name (default: the compose name or the directory)',
    valueName: 'NAME',
  },
  profile: { type: 'list', description: 'Activate a compose profile (repeatable)', valueName: 'NAME' },
  json: { type: 'boolean', description: 'Machine-readable output: the stack, the report and diagnostics' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
} as const;

const USAGE = 'import compose [FILE...] [-f FILE]... [--out DIR] [--project-name NAME] [--profile NAME]... [--json]';
const SUMMARY = 'Convert docker compose files into a groundwork.yaml, with a report of what was mapped';
export const REPORT_FILE = 'compose-import-report.txt';

/** The compose files of a directory, as compose looks for them (with the override file). */
export function defaultComposeFiles(dir: string): string[] {
  for (const n of ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml']) {
    const p = path.join(dir, n);
    if (!existsSync(p)) continue;
    const over = p.replace(/\.ya?ml$/, (ext) => `.override${ext}`);
    return existsSync(over) ? [p, over] : [p];
  }
  return [];
}

export const importCommand: Command = {
  name: 'import',
  summary: SUMMARY,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { flags, positionals } = parseArgs(argv, FLAGS, 'import');
    if (flags.help) {
      io.stdout(helpText('import', SUMMARY, USAGE, FLAGS));
      return EXIT.ok;
    }
    const [what, ...rest] = positionals;
    if (what !== 'compose')
      throw new UsageError(
        `import takes the format to import from: \`groundwork import compose [FILE...]\`${what ? ` (found \`${what}\`)` : ''}`,
      );
    const files = [...rest, ...flags.file].map((f) => path.resolve(io.cwd, f));
    if (files.length === 0) files.push(...defaultComposeFiles(io.cwd));
    if (files.length === 0)
      throw new UsageError(
        `no compose file in ${io.cwd} (compose.yaml, docker-compose.yml, ...); pass one: groundwork import compose FILE`,
      );
    const outDir = path.resolve(io.cwd, flags.out ?? '.');
    const out = importCompose({
      files,
      env: io.env,
      outDir,
      ...(flags['project-name'] ? { projectName: flags['project-name'] } : {}),
      profiles: flags.profile,
    });
    const base = path.dirname(files[0] as string);
    if (!out.yaml || !out.result) {
      if (flags.json) io.stdout(`${JSON.stringify({ ok: false, diagnostics: out.diagnostics }, null, 2)}\n`);
      else io.stderr(`${out.diagnostics.map(formatDiagnostic).join('\n\n')}\n\nthe compose files were not imported.\n`);
      return EXIT.failed;
    }
    mkdirSync(outDir, { recursive: true });
    const stackFile = path.join(outDir, 'groundwork.yaml');
    writeFileSync(stackFile, out.yaml);
    const reportText = formatReport(out.result.report, base);
    writeFileSync(path.join(outDir, REPORT_FILE), reportText);
    // The written stack is checked like `groundwork validate` would: an import that does not
    // validate says why, at the stack file's line.
    const loaded = await loadStack(stackFile);
    const diagnostics = [...out.diagnostics, ...loaded.diagnostics];
    const ok = !hasErrors(loaded.diagnostics);
    if (flags.json) {
      io.stdout(
        `${JSON.stringify({ ok, file: stackFile, stack: out.result.stack, report: out.result.report, diagnostics }, null, 2)}\n`,
      );
    } else {
      io.stdout(reportText);
      if (diagnostics.length) io.stderr(`${diagnostics.map(formatDiagnostic).join('\n\n')}\n`);
      io.stdout(
        ok
          ? `\nWrote ${stackFile} (${Object.keys(out.result.stack.services ?? {}).length} services) and ${REPORT_FILE}.\nNext: groundwork plan -f ${shortPath(io.cwd, stackFile)}\n`
          : `\nWrote ${stackFile}, but it does not validate: see the problems above.\n`,
      );
    }
    return ok ? EXIT.ok : EXIT.failed;
  },
};

/** A path relative to cwd when it is below it, else absolute. */
function shortPath(cwd: string, p: string): string {
  const r = path.relative(cwd, p);
  return r.startsWith('..') ? p : r;
}

/** `compose.yaml`, `docker-compose.yml`, `compose.prod.yaml`, ...: a compose file by its name. */
export function isComposeFile(file: string): boolean {
  return /^(docker-)?compose(\.[A-Za-z0-9_-]+)*\.ya?ml$/.test(path.basename(file)) && existsSync(file);
}

/** Where a compose file's stack is written for `-f compose.yaml`: beside it, with its state. */
export const COMPOSE_STACK_DIR = '.groundwork-compose';

/**
 * Stack commands given a compose file (`groundwork up -f compose.yaml`) run what it imports to:
 * imported on each call into `.groundwork-compose/groundwork.yaml` beside it (rewritten only when
 * the result changes), so the daemon, which re-reads its stack file, always runs what the compose
 * file says now. Its override file is merged as compose would. Throws UserError when the compose
 * file has errors, or imports to a stack that does not validate.
 */
export function composeStackFile(io: CliIo, file: string): string {
  const dir = path.dirname(file);
  const over = file.replace(/\.ya?ml$/, (ext) => `.override${ext}`);
  const files = path.basename(file).includes('.override.') || !existsSync(over) ? [file] : [file, over];
  const outDir = path.join(dir, COMPOSE_STACK_DIR);
  const out = importCompose({ files, env: io.env, outDir });
  if (!out.yaml || !out.result)
    throw new UserError(
      `${out.diagnostics.map(formatDiagnostic).join('\n\n')}\n\n${file} cannot be run: fix the problems above`,
    );
  const unsupported = out.result.report.filter((e) => e.kind === 'unsupported');
  if (unsupported.length)
    io.stderr(
      `note: ${unsupported.length} compose key${unsupported.length === 1 ? ' is' : 's are'} not supported; see ${path.join(outDir, REPORT_FILE)}\n`,
    );
  mkdirSync(outDir, { recursive: true });
  const stackFile = path.join(outDir, 'groundwork.yaml');
  const current = existsSync(stackFile) ? readFileSync(stackFile, 'utf8') : '';
  if (current !== out.yaml) writeFileSync(stackFile, out.yaml);
  writeFileSync(path.join(outDir, REPORT_FILE), formatReport(out.result.report, dir));
  return stackFile;
}
