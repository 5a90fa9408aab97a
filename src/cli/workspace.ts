/** Opens what commands share: the stack, the model, the store and the kind context. */
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic, type Diagnostic } from '../config/diagnostic.js';
import { composeStackFile, isComposeFile } from './commands/import.js';
import { loadStack, resolveStackFile, type LoadedStack } from '../config/load.js';
import { buildModel, type Model } from '../model/build-model.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { StoreDamagedError } from '../store/sqlite/store-files.js';
import { errorMessage } from '../util/error-message.js';
import type { Store } from '../store/store.js';
import { systemClock } from '../util/clock.js';
import { EXIT, UsageError, UserError, type CliIo } from './io.js';

export interface StackFlags {
  file?: string;
  var: string[];
  'state-dir'?: string;
  json: boolean;
}

export function stackFileOf(io: CliIo, flags: StackFlags): string {
  const target = path.resolve(io.cwd, flags.file ?? '.');
  // -f compose.yaml: the stack it imports to (see `groundwork import compose`).
  return isComposeFile(target) ? composeStackFile(io, target) : resolveStackFile(target);
}

export function stateDirOf(io: CliIo, flags: StackFlags): string {
  const explicit = flags['state-dir'] ?? io.env.GROUNDWORK_STATE_DIR;
  if (explicit) return path.resolve(io.cwd, explicit);
  return path.join(path.dirname(stackFileOf(io, flags)), '.groundwork');
}

export function parseVars(vars: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of vars) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var needs NAME=VALUE, found "${v}"`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export interface OpenedStack {
  loaded: LoadedStack;
  model?: Model;
  diagnostics: Diagnostic[];
}

export async function openStack(io: CliIo, flags: StackFlags): Promise<OpenedStack> {
  const loaded = await loadStack(stackFileOf(io, flags));
  if (!loaded.config) return { loaded, diagnostics: loaded.diagnostics };
  const { model, diagnostics } = buildModel(
    loaded.config,
    { dir: loaded.dir, configHash: loaded.configHash, file: loaded.file },
    { cli: parseVars(flags.var), env: io.env },
  );
  return { loaded, model, diagnostics: [...loaded.diagnostics, ...diagnostics] };
}

/** Loads the model or reports the diagnostics and throws a UserError (exit 1). */
export async function requireModel(io: CliIo, flags: StackFlags): Promise<Model> {
  const opened = await openStack(io, flags);
  if (opened.model) return opened.model;
  if (flags.json) io.stdout(`${JSON.stringify({ valid: false, diagnostics: opened.diagnostics }, null, 2)}\n`);
  else
    io.stderr(
      `${opened.diagnostics.map(formatDiagnostic).join('\n\n')}\n\n${opened.diagnostics.length} problem${opened.diagnostics.length === 1 ? '' : 's'} in the stack file.\n`,
    );
  throw new UserError('', EXIT.failed);
}

export function openStore(stateDir: string): Store {
  try {
    return SqliteStore.open(path.join(stateDir, 'state.db'), systemClock);
  } catch (e) {
    if (e instanceof StoreDamagedError) throw new UserError(`${e.message}\n  fix: ${e.fix}`);
    throw new UserError(`cannot open the state store in ${stateDir}: ${errorMessage(e)}`);
  }
}

export function authorOf(env: Record<string, string | undefined>): string {
  if (env.GROUNDWORK_AUTHOR) return env.GROUNDWORK_AUTHOR;
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `validate FILE`, `plan DIR`: a positional path means what -f means; both at once is a usage error. */
export function withPositionalFile<F extends { file?: string | undefined }>(flags: F, positionals: string[]): F {
  const given = positionals[0];
  if (given === undefined) return flags;
  if (flags.file !== undefined) throw new UsageError(`give the stack file once: \`${given}\` and -f ${flags.file}`);
  return { ...flags, file: given };
}
