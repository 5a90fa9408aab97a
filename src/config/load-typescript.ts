/**
 * Loads groundwork.config.ts: transpiles it with the TypeScript compiler (no type check; `groundwork
 * validate` checks the value against the schema) and imports the result. An import of
 * 'groundwork' is pointed at this package so the file works without installing us locally.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export async function loadTypeScriptStack(file: string): Promise<{ value: unknown } | { error: string }> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `cannot read ${file}: ${(e as Error).message}` };
  }
  const ts = (await import('typescript')).default;
  const out = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    reportDiagnostics: true,
    fileName: file,
  });
  const syntax = out.diagnostics?.[0];
  if (syntax) {
    const pos =
      syntax.file && syntax.start !== undefined ? syntax.file.getLineAndCharacterOfPosition(syntax.start) : undefined;
    return {
      error: `TypeScript syntax error${pos ? ` at ${pos.line + 1}:${pos.character + 1}` : ''}: ${ts.flattenDiagnosticMessageText(syntax.messageText, ' ')}`,
    };
  }
  const entry = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'index.js')).href;
  const code = out.outputText.replace(/(from\s+|import\s*\(\s*)(['"])groundwork\2/g, `$1$2${entry}$2`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'groundwork-config-'));
  try {
    const js = path.join(tmp, 'groundwork.config.mjs');
    writeFileSync(js, code);
    const mod = (await import(pathToFileURL(js).href)) as { default?: unknown };
    if (mod.default === undefined) return { error: 'groundwork.config.ts has no default export' };
    return { value: JSON.parse(JSON.stringify(mod.default)) as unknown };
  } catch (e) {
    return { error: `groundwork.config.ts failed to load: ${(e as Error).message}` };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
