/**
 * `groundwork import compose`: compose files → groundwork.yaml text and a report. Pure apart
 * from reading the compose files (and their .env and env_file files).
 */
import { Document, isMap, isPair, isScalar, type YAMLMap } from 'yaml';
import type { Diagnostic } from '../config/diagnostic.js';
import { loadCompose, type LoadOptions, type Pos } from './compose-project.js';
import { composeToStack, type ImportResult, type ReportEntry } from './to-stack.js';

export interface ImportOutput {
  /** groundwork.yaml text; absent when the compose files have errors. */
  yaml?: string;
  result?: ImportResult;
  diagnostics: Diagnostic[];
}

export function importCompose(opts: LoadOptions & { outDir: string }): ImportOutput {
  const loaded = loadCompose(opts);
  if (!loaded.project) return { diagnostics: loaded.diagnostics };
  const result = composeToStack(loaded.project, opts.outDir);
  return { yaml: stackYaml(result), result, diagnostics: loaded.diagnostics };
}

/** The stack as YAML, with a comment saying where each service came from. */
export function stackYaml(result: ImportResult): string {
  const doc = new Document(result.stack);
  doc.commentBefore = ` ${result.comments.get('stack') ?? ''}\n See compose-import-report.txt for what was approximated or left out.`;
  const services = doc.get('services');
  if (isMap(services)) {
    for (const item of (services as YAMLMap).items) {
      if (!isPair(item) || !isScalar(item.key)) continue;
      const c = result.comments.get(`services.${String(item.key.value)}`);
      if (c) item.key.commentBefore = ` ${c}`;
    }
  }
  const hosts = result.comments.get('env-hosts');
  if (hosts) doc.comment = ` ${hosts}`;
  return `${doc.toString({ lineWidth: 0 }).trimEnd()}\n`;
}

function where(at: Pos, base: string): string {
  const f = at.file.startsWith(`${base}/`) ? at.file.slice(base.length + 1) : at.file;
  return `${f}:${at.line}`;
}

/** The report as text: one section per kind, each entry with the compose key's file:line. */
export function formatReport(entries: readonly ReportEntry[], base: string): string {
  const lines: string[] = [];
  for (const kind of ['mapped', 'approximated', 'unsupported'] as const) {
    const of = entries.filter((e) => e.kind === kind);
    lines.push(`${kind} (${of.length}):`);
    for (const e of of) {
      lines.push(`  ${where(e.at, base)}  ${e.key}: ${e.message}`);
      if (e.fix) lines.push(`      fix: ${e.fix}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
